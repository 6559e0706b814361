/**
 * Worker configuration, read once from the environment.
 *
 * Postgres settings are deliberately absent: node-postgres reads the libpq
 * variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) itself when a
 * `new Pool()` is created without options.
 */
export interface Config {
  redisHost: string;
  redisPort: number;
  queueName: string;
  workerConcurrency: number;
  workerName: string;
  enableScheduler: boolean;
  digestEveryMs: number;
  memoryMonitorIntervalMs: number;
  memoryThresholdMb: number;
  /** Optional override of the detected container memory limit (MiB). */
  containerMemoryMb: number | undefined;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.trim());
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function optionalPositiveNumber(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw.trim());
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Redis's address: REDIS_URL (`redis://host:port`) when set, else REDIS_HOST and
 * REDIS_PORT. Only the host and port of the URL are used.
 */
export function redisAddress(env: Env): { redisHost: string; redisPort: number } {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw.trim() === '') {
    return { redisHost: str(env, 'REDIS_HOST', '127.0.0.1'), redisPort: positiveInt(env, 'REDIS_PORT', 6379) };
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`REDIS_URL must be a URL like redis://host:6379, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'redis:' || url.hostname === '') {
    throw new Error(`REDIS_URL must be a URL like redis://host:6379, got ${JSON.stringify(raw)}`);
  }
  // WHATWG URL keeps IPv6 hosts bracketed; ioredis wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { redisHost: host, redisPort: url.port === '' ? 6379 : Number(url.port) };
}

export function loadConfig(env: Env = process.env): Config {
  return {
    ...redisAddress(env),
    queueName: str(env, 'QUEUE_NAME', 'digest'),
    workerConcurrency: positiveInt(env, 'WORKER_CONCURRENCY', 1),
    workerName: str(env, 'WORKER_NAME', 'worker'),
    enableScheduler: env.ENABLE_SCHEDULER === 'true',
    digestEveryMs: positiveInt(env, 'DIGEST_EVERY_MS', 3_600_000),
    memoryMonitorIntervalMs: positiveInt(env, 'MEMORY_MONITOR_INTERVAL_MS', 60_000),
    memoryThresholdMb: positiveInt(env, 'MEMORY_THRESHOLD_MB', 512),
    containerMemoryMb: optionalPositiveNumber(env, 'CONTAINER_MEMORY_MB'),
  };
}

/** ioredis options shared by the worker, the queue and the produce tool. */
export function redisOptions(config: Pick<Config, 'redisHost' | 'redisPort'>) {
  return {
    host: config.redisHost,
    port: config.redisPort,
    // Required by BullMQ for blocking connections (Worker).
    maxRetriesPerRequest: null,
  };
}
