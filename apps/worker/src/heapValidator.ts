/**
 * Start-up check that V8's heap limit leaves room inside the container's
 * memory limit (heap limit above 85 % of the container memory risks the
 * kernel OOM killer before V8 gets a chance to garbage-collect).
 *
 * The container memory is CONTAINER_MEMORY_MB when set, else the cgroup limit.
 * Without either (a dev worker on the host, or a container without a memory
 * limit) there is nothing to compare with: one line says so, no warning.
 */
import { getHeapStatistics } from 'node:v8';
import { readCgroupMemoryLimitBytes } from './cgroup';
import { optionalPositiveNumber } from './config';
import { consoleLogger, type Logger } from './logger';

export const MIB = 1024 * 1024;
/** Warn when the heap limit is strictly above this share of container memory. */
export const MAX_HEAP_RATIO_PERCENT = 85;

/** Where the container memory came from; 'none': no CONTAINER_MEMORY_MB and no cgroup limit. */
export type ContainerMemorySource = 'CONTAINER_MEMORY_MB' | 'cgroup' | 'none';

export interface HeapValidationOptions {
  /** V8 heap_size_limit in bytes; defaults to v8.getHeapStatistics(). */
  heapSizeLimitBytes?: number;
  /** Environment to read CONTAINER_MEMORY_MB from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Returns the cgroup memory limit in bytes, or null when unlimited/unknown. */
  readCgroupMemoryLimitBytes?: () => number | null;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface HeapValidationResult {
  heapSizeLimitMib: number;
  /** null when there is no limit (source 'none'). */
  containerMemoryMib: number | null;
  source: ContainerMemorySource;
  /** null when there is no limit (source 'none'). */
  ratioPercent: number | null;
  warning: boolean;
}

function formatNumber(value: number, decimals: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(decimals);
}

export function validateHeapConfiguration(opts: HeapValidationOptions = {}): HeapValidationResult {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? consoleLogger;
  const heapBytes = opts.heapSizeLimitBytes ?? getHeapStatistics().heap_size_limit;
  const heapSizeLimitMib = heapBytes / MIB;

  let containerMemoryMib: number;
  let source: ContainerMemorySource;
  const override = optionalPositiveNumber(env, 'CONTAINER_MEMORY_MB');
  if (override !== undefined) {
    containerMemoryMib = override;
    source = 'CONTAINER_MEMORY_MB';
  } else {
    const cgroupBytes = (opts.readCgroupMemoryLimitBytes ?? readCgroupMemoryLimitBytes)();
    if (cgroupBytes === null) {
      logger.info(
        `[heap] heap_size_limit=${formatNumber(heapSizeLimitMib, 1)} MiB; no container memory limit ` +
          `(no cgroup limit, CONTAINER_MEMORY_MB unset): the ${MAX_HEAP_RATIO_PERCENT}% check does not apply`,
      );
      return { heapSizeLimitMib, containerMemoryMib: null, source: 'none', ratioPercent: null, warning: false };
    }
    containerMemoryMib = cgroupBytes / MIB;
    source = 'cgroup';
  }

  const ratioPercent = (heapSizeLimitMib / containerMemoryMib) * 100;
  // Compare without dividing so that exactly 85 % is not flagged by rounding.
  const warning = heapSizeLimitMib * 100 > containerMemoryMib * MAX_HEAP_RATIO_PERCENT;

  logger.info(
    `[heap] heap_size_limit=${formatNumber(heapSizeLimitMib, 1)} MiB ` +
      `container_memory=${formatNumber(containerMemoryMib, 1)} MiB (${source}) ` +
      `ratio=${ratioPercent.toFixed(1)}%`,
  );
  if (warning) {
    logger.warn(
      `[heap] WARNING heap limit exceeds ${MAX_HEAP_RATIO_PERCENT}% of container memory: ` +
        `lower --max-old-space-size in NODE_OPTIONS or raise the container memory limit`,
    );
  }
  return { heapSizeLimitMib, containerMemoryMib, source, ratioPercent, warning };
}
