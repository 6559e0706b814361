/**
 * Adds N `digest` jobs to the queue:
 *   node dist/apps/worker/produce.js --prefix P --count N [--interval-ms MS] [--duration-ms D]
 * Job ids are `${P}-1` .. `${P}-N`; each added id is printed on its own line.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { loadConfig } from '../config';
import { consoleLogger, describeError } from '../logger';
import type { DigestJobData } from '../processor';
import { createRedis } from '../redis';
import { parseProduceArgs, USAGE, type ProduceArgs } from './produceArgs';

async function main(): Promise<void> {
  let args: ProduceArgs;
  try {
    args = parseProduceArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${describeError(error)}\n${USAGE}`);
    process.exit(2);
  }
  const config = loadConfig();
  const redis = createRedis(config, consoleLogger);
  const queue = new Queue<DigestJobData>(config.queueName, { connection: redis });
  queue.on('error', (error) => console.error(`[queue] error: ${describeError(error)}`));
  try {
    for (let i = 1; i <= args.count; i += 1) {
      if (i > 1 && args.intervalMs > 0) await sleep(args.intervalMs);
      const jobId = `${args.prefix}-${i}`;
      await queue.add(
        'digest',
        { durationMs: args.durationMs },
        // Retries are safe: the processor's insert is idempotent.
        { jobId, attempts: 5, backoff: { type: 'exponential', delay: 500 } },
      );
      process.stdout.write(`${jobId}\n`);
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(`[produce] failed: ${describeError(error)}`);
  process.exit(1);
});
