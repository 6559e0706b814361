/**
 * Start-up check that V8's heap limit leaves room inside the container's
 * memory limit (heap limit above 85 % of the container memory risks the
 * kernel OOM killer before V8 gets a chance to garbage-collect).
 */
import { getHeapStatistics } from 'node:v8';
import { readCgroupMemoryLimitBytes } from './cgroup';
import { optionalPositiveNumber } from './config';
import { consoleLogger, type Logger } from './logger';

export const MIB = 1024 * 1024;
export const DEFAULT_CONTAINER_MEMORY_MB = 512;
/** Warn when the heap limit is strictly above this share of container memory. */
export const MAX_HEAP_RATIO_PERCENT = 85;

export type ContainerMemorySource = 'CONTAINER_MEMORY_MB' | 'cgroup' | 'default';

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
  containerMemoryMib: number;
  source: ContainerMemorySource;
  ratioPercent: number;
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
    if (cgroupBytes !== null) {
      containerMemoryMib = cgroupBytes / MIB;
      source = 'cgroup';
    } else {
      containerMemoryMib = DEFAULT_CONTAINER_MEMORY_MB;
      source = 'default';
    }
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
