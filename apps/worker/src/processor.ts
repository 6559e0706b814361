/** The job processor: simulate work, then record the job once in digest_results. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queryable } from './db';
import { runLoadJob, type LoadJobData } from './loadJob';

export interface DigestJobData extends LoadJobData {
  /** How long the simulated work takes, in milliseconds (default 0). */
  durationMs?: number;
}

/** Jobs of this name allocate memory first (see loadJob.ts; `inv prodlike.load` adds them). */
export const LOAD_JOB_NAME = 'load';

/** The parts of a BullMQ Job the processor uses. */
export interface DigestJob {
  id?: string | undefined;
  name: string;
  data: DigestJobData | null | undefined;
  /** When the job was added to the queue (ms since the epoch), as BullMQ records it. */
  timestamp?: number;
}

/**
 * One row per job id: a job delivered again (retried after a crash, or recovered as stalled) is not
 * counted twice, but its `deliveries` goes up, so a duplicate delivery stays visible.
 */
export const INSERT_RESULT_SQL =
  'INSERT INTO digest_results (job_id, job_name, processed_by, added_at, started_at) ' +
  'VALUES ($1, $2, $3, to_timestamp($4::double precision / 1000), to_timestamp($5::double precision / 1000)) ' +
  'ON CONFLICT (job_id) DO UPDATE SET deliveries = digest_results.deliveries + 1';

export function jobDuration(data: DigestJobData | null | undefined): number {
  const value = Number(data?.durationMs ?? 0);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export interface ProcessorDeps {
  db: Queryable;
  workerName: string;
  sleep?: (ms: number) => Promise<unknown>;
  now?: () => number;
}

/**
 * Returns a BullMQ processor. The insert is idempotent: a job that is retried
 * after a crash (or stalled and re-run) is recorded only once.
 */
export function createProcessor(deps: ProcessorDeps) {
  const wait = deps.sleep ?? ((ms: number) => sleep(ms));
  const now = deps.now ?? Date.now;
  return async function processDigest(job: DigestJob): Promise<{ processedBy: string }> {
    if (job.id === undefined) throw new Error('job without id');
    const startedAt = now();
    const duration = jobDuration(job.data);
    if (duration > 0) await wait(duration);
    if (job.name === LOAD_JOB_NAME) await runLoadJob(job.data);
    await deps.db.query(INSERT_RESULT_SQL, [job.id, job.name, deps.workerName, job.timestamp ?? null, startedAt]);
    return { processedBy: deps.workerName };
  };
}
