/** The ioredis connection shared by the worker/queue and the produce tool. */
import IORedis from 'ioredis';
import type { Config } from './config';
import { redisOptions } from './config';
import { describeError, type Logger } from './logger';

/**
 * Creates the connection and logs its state changes without flooding the log
 * while ioredis keeps retrying (the same error is logged once until the
 * connection comes back).
 */
export function createRedis(config: Pick<Config, 'redisHost' | 'redisPort'>, logger: Logger): IORedis {
  const redis = new IORedis(redisOptions(config));
  const where = `${config.redisHost}:${config.redisPort}`;
  let lastError: string | undefined;
  redis.on('error', (error: unknown) => {
    const message = describeError(error);
    if (message === lastError) return;
    lastError = message;
    logger.error(`[redis] cannot reach ${where}: ${message} (retrying)`);
  });
  redis.on('ready', () => {
    if (lastError !== undefined) logger.info(`[redis] connected to ${where}`);
    lastError = undefined;
  });
  return redis;
}
