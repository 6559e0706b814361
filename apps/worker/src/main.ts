/**
 * Worker entry point: heap check, Postgres schema, BullMQ worker, optional
 * scheduler, memory monitor, and a graceful shutdown on SIGTERM/SIGINT/SIGHUP
 * (SIGBREAK on Windows; see stopRequests.ts).
 * With WORKER_START_GATE=<file> it prepares everything, then waits for that
 * file before it takes jobs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import type IORedis from 'ioredis';
import type { Pool } from 'pg';
import { loadConfig, type Config } from './config';
import { createPool, ensureSchema } from './db';
import { validateHeapConfiguration } from './heapValidator';
import { consoleLogger as log, describeError, RepeatFilter } from './logger';
import { MemoryMonitor } from './memoryMonitor';
import { createProcessor, type DigestJobData } from './processor';
import { ReadyFile, readyFilePath } from './readyFile';
import { createRedis } from './redis';
import { registerScheduler } from './scheduler';
import { startGatePath, waitForGate } from './startGate';
import { installStopHandlers, type StopRequest } from './stopRequests';

let config: Config;
let pool: Pool | undefined;
let redis: IORedis | undefined;
let queue: Queue | undefined;
let worker: Worker<DigestJobData> | undefined;
let monitor: MemoryMonitor | undefined;
let shuttingDown = false;
let readyFile = new ReadyFile(undefined);

async function closeStep(name: string, step: () => unknown): Promise<void> {
  try {
    await step();
  } catch (error) {
    log.error(`[worker] error while closing ${name}: ${describeError(error)}`);
  }
}

/**
 * Resolves when the Redis connection is not usable (now or later). BullMQ's
 * close() waits for its connections to become ready first, so while Redis is
 * unreachable it would never return; there is also nothing left to finish
 * then (an interrupted job is retried elsewhere, and the insert is idempotent).
 */
function redisUnavailable(connection: IORedis): { promise: Promise<void>; cancel: () => void } {
  let cancel = () => {};
  const promise = new Promise<void>((resolve) => {
    if (connection.status !== 'ready') return resolve();
    const onClose = () => resolve();
    connection.once('close', onClose);
    cancel = () => connection.off('close', onClose);
  });
  return { promise, cancel };
}

/** Runs a BullMQ close step, giving up on it if Redis is or becomes unreachable. */
async function closeBullmqStep(name: string, step: () => Promise<unknown>): Promise<void> {
  const down = redis ? redisUnavailable(redis) : undefined;
  let gaveUp = false;
  const closing = closeStep(name, step);
  await Promise.race([
    closing,
    down?.promise.then(() => {
      gaveUp = true;
    }) ?? closing,
  ]);
  down?.cancel();
  if (gaveUp) log.warn(`[worker] redis unreachable, not waiting for the ${name} to close`);
}

function describeStop(request: StopRequest): string {
  return `${request.signal} received`;
}

/** One log line per stop request (see stopRequests.ts for how duplicates are dropped). */
async function shutdown(request: StopRequest): Promise<void> {
  if (shuttingDown) {
    log.info(`[worker] ${describeStop(request)}, already closing (waiting for the active job)`);
    return;
  }
  shuttingDown = true;
  log.info(`[worker] ${describeStop(request)}, closing`);
  readyFile.remove(); // no longer taking jobs
  monitor?.stop();
  // close() stops fetching new jobs and waits for the active ones to finish.
  if (worker) await closeBullmqStep('worker', () => worker!.close());
  if (queue) await closeBullmqStep('queue', () => queue!.close());
  if (redis) await closeStep('redis', () => redis!.disconnect());
  if (pool) await closeStep('postgres pool', () => pool!.end());
  log.info('[worker] closed');
  process.exit(0);
}

/** Creates the table, retrying while Postgres is unreachable (until a shutdown starts). */
async function prepareDatabase(db: Pool): Promise<void> {
  const where = `${process.env.PGHOST ?? 'localhost'}:${process.env.PGPORT ?? '5432'}`;
  let lastError: string | undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await ensureSchema(db);
      if (lastError !== undefined) log.info(`[postgres] connected to ${where}`);
      return;
    } catch (error) {
      if (shuttingDown) return;
      const message = describeError(error);
      const delay = Math.min(500 * attempt, 5000);
      if (message !== lastError) {
        log.error(`[postgres] cannot prepare table digest_results at ${where}: ${message} (retrying)`);
      }
      lastError = message;
      await sleep(delay);
      if (shuttingDown) return;
    }
  }
}

async function start(): Promise<void> {
  installStopHandlers((request) => void shutdown(request));
  // After a closed terminal (SIGHUP) every write to it fails with EIO, reported as an 'error'
  // event that would crash the worker in the middle of its active job: ignore it.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

  config = loadConfig();
  const gate = startGatePath(process.env);
  readyFile = new ReadyFile(readyFilePath(process.env));
  process.on('exit', () => readyFile.remove());
  validateHeapConfiguration({ env: process.env, logger: log });

  pool = createPool();
  pool.on('error', (error) => log.error(`[postgres] idle client error: ${describeError(error)}`));
  await prepareDatabase(pool);
  if (shuttingDown) return;

  redis = createRedis(config, log);
  // BullMQ re-emits every failed reconnect attempt: log each distinct error
  // once per outage (the [redis] line already says the connection is down).
  const errors = new RepeatFilter((line) => log.error(line));
  redis.on('ready', () => errors.reset());
  const processor = createProcessor({ db: pool, workerName: config.workerName });
  worker = new Worker<DigestJobData>(config.queueName, (job) => processor(job), {
    connection: redis,
    concurrency: config.workerConcurrency,
    name: config.workerName,
    // Behind a start gate, jobs are fetched only once it opens (worker.run() below).
    autorun: gate === undefined,
  });
  worker.on('completed', (job) => log.info(`[worker] job ${job.id} done`));
  worker.on('failed', (job, error) =>
    log.error(`[worker] job ${job?.id ?? '?'} failed: ${describeError(error)}`),
  );
  worker.on('error', (error) => errors.log(`[worker] error: ${describeError(error)}`));

  queue = new Queue(config.queueName, { connection: redis });
  queue.on('error', (error) => errors.log(`[queue] error: ${describeError(error)}`));

  await worker.waitUntilReady();
  if (shuttingDown) return;
  const description =
    `queue=${config.queueName} name=${config.workerName} ` +
    `scheduler=${config.enableScheduler ? 'on' : 'off'} pid=${process.pid}`;
  if (gate !== undefined) {
    // Connected and prepared, but neither taking jobs nor touching the scheduler (the worker
    // that owns it may still be running) until the gate opens.
    log.info(`[worker] ready (gated) ${description} gate=${gate}`);
    readyFile.write();
    if (!(await waitForGate(gate, { stopped: () => shuttingDown }))) return;
    log.info('[worker] gate open');
  }
  await registerScheduler(queue, config);
  if (shuttingDown) return;
  if (gate !== undefined) {
    worker.run().catch((error: unknown) => errors.log(`[worker] error: ${describeError(error)}`));
  }

  log.info(`[worker] ready ${description}`);
  if (gate === undefined) readyFile.write();
  monitor = new MemoryMonitor(config.memoryMonitorIntervalMs, config.memoryThresholdMb, log);
  monitor.start();
}

start().catch((error: unknown) => {
  log.error(`[worker] start-up failed: ${describeError(error)}`);
  if (error instanceof Error && error.stack) log.error(error.stack);
  process.exit(1);
});
