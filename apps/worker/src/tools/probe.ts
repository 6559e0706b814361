/** Prints one JSON line describing the runtime's heap limit and cgroup limits. */
import { getHeapStatistics } from 'node:v8';
import { readCgroupLimits } from '../cgroup';

const limits = readCgroupLimits();
const report = {
  heap_size_limit_mib: Math.round((getHeapStatistics().heap_size_limit / (1024 * 1024)) * 100) / 100,
  cgroup_version: limits.version,
  memory_limit_bytes: limits.memoryLimitBytes,
  cpu_quota_us: limits.cpuQuotaUs,
  cpu_period_us: limits.cpuPeriodUs,
  node_env: process.env.NODE_ENV ?? null,
  node_options: process.env.NODE_OPTIONS ?? null,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
