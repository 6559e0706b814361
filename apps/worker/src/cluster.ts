/**
 * Cluster primary of the prod-like worker: forks WORKER_PROCESSES worker processes (each one the
 * normal worker, main.ts, started by clusterWorker.ts with the container's NODE_OPTIONS), gives the
 * scheduler to process 1 only, replaces a process that dies (with a restart counter and a backoff
 * against crash loops), writes every process's heap limit and memory to a status file, and on
 * SIGTERM/SIGINT/SIGHUP forwards the signal to all of them and waits for their graceful close.
 */
import cluster, { type Worker } from 'node:cluster';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  childEnv,
  type ClusterStatus,
  DEFAULT_STATUS_FILE,
  isWorkerSample,
  processCount,
  restartDelayMs,
  STABLE_AFTER_MS,
  toMib,
  type WorkerSample,
} from './clusterPolicy';
import { consoleLogger as log, describeError } from './logger';

interface Slot {
  index: number;
  worker: Worker | undefined;
  started: number;
  restarts: number;
  quickDeaths: number;
  sample: WorkerSample | undefined;
  env: Record<string, string | undefined>;
}

const statusFile = process.env.WORKER_STATUS_FILE || DEFAULT_STATUS_FILE;
let count = 1;
const slots: Slot[] = [];
let totalRestarts = 0;
let stopping = false;

function writeStatus(): void {
  const status: ClusterStatus = {
    primary_pid: process.pid,
    processes: count,
    restarts: totalRestarts,
    updated_ms: Date.now(),
    workers: slots.map((slot) => ({
      index: slot.index,
      pid: slot.worker?.process.pid ?? 0,
      name: slot.env.WORKER_NAME ?? '',
      scheduler: slot.env.ENABLE_SCHEDULER === 'true',
      restarts: slot.restarts,
      started_ms: slot.started,
      heap_size_limit_mib: slot.sample ? toMib(slot.sample.heapSizeLimitBytes) : null,
      heap_used_mib: slot.sample ? toMib(slot.sample.heapUsedBytes) : null,
      rss_mib: slot.sample ? toMib(slot.sample.rssBytes) : null,
      retained_mb: slot.sample ? slot.sample.retainedMb : null,
    })),
  };
  try {
    const tmp = `${statusFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(status)}\n`);
    renameSync(tmp, statusFile);
  } catch (error) {
    log.warn(`[cluster] cannot write ${statusFile}: ${describeError(error)}`);
  }
}

function fork(slot: Slot): void {
  slot.started = Date.now();
  slot.sample = undefined;
  const worker = cluster.fork(slot.env);
  slot.worker = worker;
  worker.on('message', (message: unknown) => {
    if (isWorkerSample(message) && slot.worker === worker) {
      slot.sample = message;
      writeStatus();
    }
  });
  worker.on('exit', (code, signal) => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (stopping) {
      log.info(`[cluster] worker ${slot.index} (pid ${worker.process.pid}) closed (${how})`);
      writeStatus();
      if (slots.every((s) => s.worker === undefined)) finish();
      return;
    }
    const lived = Date.now() - slot.started;
    slot.quickDeaths = lived >= STABLE_AFTER_MS ? 1 : slot.quickDeaths + 1;
    slot.restarts += 1;
    totalRestarts += 1;
    const delay = restartDelayMs(slot.quickDeaths);
    log.error(
      `[cluster] worker ${slot.index} (pid ${worker.process.pid}) died (${how}) after ${Math.round(lived / 1000)}s; ` +
        `restart ${slot.restarts} of this process, ${totalRestarts} in all, in ${delay} ms`,
    );
    writeStatus();
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, delay);
  });
}

function finish(): void {
  log.info('[cluster] all worker processes closed');
  rmSync(statusFile, { force: true });
  process.exit(0);
}

function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log.info(`[cluster] ${signal} received, forwarding to ${slots.filter((s) => s.worker).length} worker process(es)`);
  for (const slot of slots) slot.worker?.process.kill(signal);
  if (slots.every((s) => s.worker === undefined)) finish();
}

function main(): void {
  count = processCount(process.env);
  cluster.setupPrimary({ exec: join(__dirname, 'clusterWorker.js') });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  for (let index = 1; index <= count; index += 1) {
    slots.push({
      index,
      worker: undefined,
      started: 0,
      restarts: 0,
      quickDeaths: 0,
      sample: undefined,
      env: childEnv(process.env, index, count),
    });
  }
  log.info(
    `[cluster] primary pid=${process.pid} starting ${count} worker process(es) ` +
      `NODE_OPTIONS=${JSON.stringify(process.env.NODE_OPTIONS ?? '')}`,
  );
  for (const slot of slots) fork(slot);
  writeStatus();
}

try {
  main();
} catch (error) {
  log.error(`[cluster] start-up failed: ${describeError(error)}`);
  process.exit(1);
}
