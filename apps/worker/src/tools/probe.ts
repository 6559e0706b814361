/** Prints one JSON line describing the runtime's heap limit and cgroup limits, and the cluster's
 * worker processes when a cluster primary (cluster.ts) runs in this container. */
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { readCgroupLimits } from '../cgroup';
import { DEFAULT_STATUS_FILE } from '../clusterPolicy';

function clusterStatus(): unknown {
  try {
    return JSON.parse(readFileSync(process.env.WORKER_STATUS_FILE || DEFAULT_STATUS_FILE, 'utf8'));
  } catch {
    return null;
  }
}

const limits = readCgroupLimits();
const report = {
  heap_size_limit_mib: Math.round((getHeapStatistics().heap_size_limit / (1024 * 1024)) * 100) / 100,
  cgroup_version: limits.version,
  memory_limit_bytes: limits.memoryLimitBytes,
  cpu_quota_us: limits.cpuQuotaUs,
  cpu_period_us: limits.cpuPeriodUs,
  node_env: process.env.NODE_ENV ?? null,
  node_options: process.env.NODE_OPTIONS ?? null,
  cluster: clusterStatus(),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
