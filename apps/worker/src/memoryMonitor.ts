/** Periodic logging of the process's memory use, with a warning above a threshold. */
import { consoleLogger, type Logger } from './logger';

export type MemoryUsageFn = () => Pick<NodeJS.MemoryUsage, 'rss' | 'heapUsed' | 'heapTotal'>;

export interface TimerFns {
  setInterval: (callback: () => void, ms: number) => unknown;
  clearInterval: (handle: unknown) => void;
}

const defaultTimers: TimerFns = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** Bytes to whole MiB (rounded). */
export function bytesToMb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}

export class MemoryMonitor {
  private handle: unknown = undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly thresholdMb: number,
    private readonly logger: Pick<Logger, 'info' | 'warn'> = consoleLogger,
    private readonly memoryUsageFn: MemoryUsageFn = () => process.memoryUsage(),
    private readonly timers: TimerFns = defaultTimers,
  ) {}

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Starts the periodic check; a second call while running does nothing. */
  start(): void {
    if (this.handle !== undefined) return;
    const handle = this.timers.setInterval(() => this.check(), this.intervalMs);
    // Never keep the process alive just for monitoring.
    (handle as { unref?: () => void } | undefined)?.unref?.();
    this.handle = handle;
  }

  /** Stops the periodic check; safe to call more than once. */
  stop(): void {
    if (this.handle === undefined) return;
    this.timers.clearInterval(this.handle);
    this.handle = undefined;
  }

  /** Logs one sample (also what each tick does). */
  check(): void {
    const usage = this.memoryUsageFn();
    const rss = bytesToMb(usage.rss);
    this.logger.info(
      `[memory] rss=${rss}MB heapUsed=${bytesToMb(usage.heapUsed)}MB heapTotal=${bytesToMb(usage.heapTotal)}MB`,
    );
    if (rss > this.thresholdMb) {
      this.logger.warn(`[memory] WARNING rss ${rss}MB above threshold ${this.thresholdMb}MB`);
    }
  }
}
