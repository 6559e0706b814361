/**
 * Reading of the container's cgroup limits (memory and CPU), for cgroup v2
 * (unified hierarchy) and cgroup v1. Parsing is split from file access so it
 * can be unit-tested from strings.
 */
import { readFileSync } from 'node:fs';

/** Values at or above 2^60 bytes mean "no limit" (cgroup v1 reports ~2^63). */
export const UNLIMITED_THRESHOLD_BYTES = 2 ** 60;

export const CGROUP_V2_MEMORY_MAX = '/sys/fs/cgroup/memory.max';
export const CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max';
export const CGROUP_V1_MEMORY_LIMIT = '/sys/fs/cgroup/memory/memory.limit_in_bytes';
export const CGROUP_V1_CPU_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us';
export const CGROUP_V1_CPU_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us';

/** Returns the file's content, or undefined when it cannot be read. */
export type FileReader = (path: string) => string | undefined;

export const readFileOrUndefined: FileReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Parses a memory limit file (v2 `memory.max` or v1 `memory.limit_in_bytes`).
 * Returns bytes, or null for "max", a huge value, or unparsable content.
 */
export function parseMemoryLimit(content: string): number | null {
  const text = content.trim();
  if (text === '' || text === 'max') return null;
  if (!/^\d+$/.test(text)) return null;
  const bytes = Number(text);
  if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= UNLIMITED_THRESHOLD_BYTES) return null;
  return bytes;
}

export interface CpuLimit {
  quotaUs: number | null;
  periodUs: number | null;
}

/** Parses cgroup v2 `cpu.max`: "300000 100000" or "max 100000". */
export function parseCpuMaxV2(content: string): CpuLimit {
  const [quota, period] = content.trim().split(/\s+/);
  return {
    quotaUs: quota === undefined || quota === 'max' ? null : toPositiveIntOrNull(quota),
    periodUs: period === undefined ? null : toPositiveIntOrNull(period),
  };
}

/** Parses cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1 = unlimited). */
export function parseCpuV1(quotaContent: string, periodContent: string | undefined): CpuLimit {
  return {
    quotaUs: toPositiveIntOrNull(quotaContent.trim()),
    periodUs: periodContent === undefined ? null : toPositiveIntOrNull(periodContent.trim()),
  };
}

function toPositiveIntOrNull(text: string): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return value > 0 ? value : null;
}

export interface CgroupLimits {
  /** 2, 1, or null when no cgroup memory/cpu files were found. */
  version: 1 | 2 | null;
  memoryLimitBytes: number | null;
  cpuQuotaUs: number | null;
  cpuPeriodUs: number | null;
}

/** Detects the cgroup version from the files present and reads the limits. */
export function readCgroupLimits(read: FileReader = readFileOrUndefined): CgroupLimits {
  const v2Memory = read(CGROUP_V2_MEMORY_MAX);
  const v2Cpu = read(CGROUP_V2_CPU_MAX);
  if (v2Memory !== undefined || v2Cpu !== undefined) {
    const cpu = v2Cpu === undefined ? { quotaUs: null, periodUs: null } : parseCpuMaxV2(v2Cpu);
    return {
      version: 2,
      memoryLimitBytes: v2Memory === undefined ? null : parseMemoryLimit(v2Memory),
      cpuQuotaUs: cpu.quotaUs,
      cpuPeriodUs: cpu.periodUs,
    };
  }
  const v1Memory = read(CGROUP_V1_MEMORY_LIMIT);
  const v1Quota = read(CGROUP_V1_CPU_QUOTA);
  if (v1Memory !== undefined || v1Quota !== undefined) {
    const cpu =
      v1Quota === undefined
        ? { quotaUs: null, periodUs: null }
        : parseCpuV1(v1Quota, read(CGROUP_V1_CPU_PERIOD));
    return {
      version: 1,
      memoryLimitBytes: v1Memory === undefined ? null : parseMemoryLimit(v1Memory),
      cpuQuotaUs: cpu.quotaUs,
      cpuPeriodUs: cpu.periodUs,
    };
  }
  return { version: null, memoryLimitBytes: null, cpuQuotaUs: null, cpuPeriodUs: null };
}

/** Memory limit in bytes from cgroup v2, else v1; null when unlimited/unknown. */
export function readCgroupMemoryLimitBytes(read: FileReader = readFileOrUndefined): number | null {
  return readCgroupLimits(read).memoryLimitBytes;
}
