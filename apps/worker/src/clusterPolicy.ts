/**
 * Pure rules of the cluster primary (cluster.ts): what each worker process gets in its
 * environment, how long to wait before replacing one that died, and the status file's shape.
 */

export type Env = Record<string, string | undefined>;

/** Where the primary writes the status of every worker process (read by probe.js and prodlike.load). */
export const DEFAULT_STATUS_FILE = '/tmp/devstack-worker-status.json';

/** A worker that lived at least this long before dying starts a fresh backoff series. */
export const STABLE_AFTER_MS = 30_000;
export const FIRST_RESTART_DELAY_MS = 500;
export const MAX_RESTART_DELAY_MS = 30_000;

/** Reads WORKER_PROCESSES: a whole number >= 1 (default 1); throws a readable Error otherwise. */
export function processCount(env: Env): number {
  const raw = env.WORKER_PROCESSES;
  if (raw === undefined || raw.trim() === '') return 1;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`WORKER_PROCESSES must be a whole number >= 1, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * The environment of worker process `index` (1-based) of `count`: only process 1 may run the
 * scheduler (as the container says, ENABLE_SCHEDULER), the others never do; with several processes
 * each gets its own WORKER_NAME (`background.2`), recorded as processed_by.
 */
export function childEnv(env: Env, index: number, count: number): Env {
  const base = env.WORKER_NAME && env.WORKER_NAME.trim() !== '' ? env.WORKER_NAME.trim() : 'worker';
  return {
    WORKER_INDEX: String(index),
    WORKER_NAME: count > 1 ? `${base}.${index}` : base,
    ENABLE_SCHEDULER: index === 1 && env.ENABLE_SCHEDULER === 'true' ? 'true' : 'false',
  };
}

/**
 * Delay before replacing a worker that died: 0.5 s, 1 s, 2 s ... up to 30 s for a worker that keeps
 * dying soon after its start (a crash loop), back to 0.5 s once one has lived STABLE_AFTER_MS.
 * `consecutive` counts the quick deaths so far, this one included (>= 1).
 */
export function restartDelayMs(consecutive: number): number {
  const step = Math.max(1, consecutive);
  return Math.min(FIRST_RESTART_DELAY_MS * 2 ** (step - 1), MAX_RESTART_DELAY_MS);
}

/** What a worker process reports to the primary over IPC (first at start, then every second). */
export interface WorkerSample {
  type: 'devstack-sample';
  pid: number;
  heapSizeLimitBytes: number;
  heapUsedBytes: number;
  rssBytes: number;
  retainedMb: number;
}

export function isWorkerSample(message: unknown): message is WorkerSample {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'devstack-sample' &&
    typeof (message as { pid?: unknown }).pid === 'number'
  );
}

export interface WorkerStatus {
  index: number;
  pid: number;
  name: string;
  scheduler: boolean;
  restarts: number;
  started_ms: number;
  heap_size_limit_mib: number | null;
  heap_used_mib: number | null;
  rss_mib: number | null;
  retained_mb: number | null;
}

export interface ClusterStatus {
  primary_pid: number;
  processes: number;
  restarts: number;
  updated_ms: number;
  workers: WorkerStatus[];
}

const MIB = 1024 * 1024;

export function toMib(bytes: number): number {
  return Math.round((bytes / MIB) * 100) / 100;
}
