/**
 * Drives `load` jobs for `inv prodlike.load`: adds jobs (each allocating --mb MiB for --hold-ms, a
 * --retain-share of them keeping it), at most --in-flight outstanding and at most --rate per second,
 * for --count jobs or --duration-s seconds, then waits up to --drain-s for the outstanding ones.
 * Prints one JSON line of progress every 500 ms and a final line with "final": true.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { loadConfig } from '../config';
import { consoleLogger, describeError } from '../logger';
import { type DigestJobData, LOAD_JOB_NAME } from '../processor';
import { createRedis } from '../redis';
import { LOAD_USAGE, parseLoadArgs, retains, type LoadArgs } from './loadArgs';

async function main(): Promise<void> {
  let args: LoadArgs;
  try {
    args = parseLoadArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${describeError(error)}\n${LOAD_USAGE}`);
    process.exit(2);
  }
  const config = loadConfig();
  const redis = createRedis(config, consoleLogger);
  const queue = new Queue<DigestJobData>(config.queueName, { connection: redis });
  queue.on('error', (error) => console.error(`[queue] error: ${describeError(error)}`));
  const started = Date.now();
  const outstanding = new Set<string>();
  const failedReasons: string[] = [];
  let added = 0;
  let done = 0;
  let failed = 0;
  let lastPrint = 0;

  const print = (extra: Record<string, unknown> = {}) => {
    const line = { t_ms: Date.now() - started, added, done, failed, outstanding: outstanding.size, ...extra };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    lastPrint = Date.now();
  };
  const settle = async () => {
    for (const id of [...outstanding]) {
      const state = await queue.getJobState(id);
      if (state === 'completed') {
        outstanding.delete(id);
        done += 1;
      } else if (state === 'failed') {
        outstanding.delete(id);
        failed += 1;
        const job = await queue.getJob(id);
        if (failedReasons.length < 5) failedReasons.push(`${id}: ${job?.failedReason ?? '?'}`);
      }
    }
    if (Date.now() - lastPrint >= 500) print();
  };
  const more = () =>
    args.count !== undefined ? added < args.count : Date.now() - started < (args.durationS ?? 0) * 1000;

  try {
    const gap = args.rate > 0 ? 1000 / args.rate : 0;
    let nextAt = Date.now();
    while (more()) {
      if (outstanding.size >= args.inFlight || Date.now() < nextAt) {
        await sleep(50);
        await settle();
        continue;
      }
      added += 1;
      const jobId = `${args.prefix}-${added}`;
      await queue.add(
        LOAD_JOB_NAME,
        { mb: args.mb, holdMs: args.holdMs, retain: retains(added, args.retainShare) },
        // One attempt: a job that fails under the caps is a result, not something to hide by retrying.
        { jobId, attempts: 1 },
      );
      outstanding.add(jobId);
      nextAt += gap;
      if (nextAt < Date.now() - 1000) nextAt = Date.now();
    }
    const drainUntil = Date.now() + args.drainS * 1000;
    while (outstanding.size > 0 && Date.now() < drainUntil) {
      await sleep(200);
      await settle();
    }
    print({ final: true, unfinished: outstanding.size, failed_reasons: failedReasons, seconds: (Date.now() - started) / 1000 });
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`[loadgen] failed: ${describeError(error)}`);
  process.exit(1);
});
