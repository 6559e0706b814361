import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, redisOptions } from '../src/config';

describe('REDIS_URL', () => {
  it('wins over REDIS_HOST and REDIS_PORT', () => {
    const config = loadConfig({ REDIS_URL: 'redis://queue:16379', REDIS_HOST: 'x', REDIS_PORT: '1' });
    assert.equal(config.redisHost, 'queue');
    assert.equal(config.redisPort, 16379);
  });

  it('defaults the port and unbrackets IPv6', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://cache' }).redisPort, 6379);
    assert.equal(loadConfig({ REDIS_URL: 'redis://[::1]:7000' }).redisHost, '::1');
  });

  it('refuses what is not a redis URL', () => {
    assert.throws(() => loadConfig({ REDIS_URL: 'queue:6379' }), /REDIS_URL must be a URL/);
    assert.throws(() => loadConfig({ REDIS_URL: 'http://queue:6379' }), /REDIS_URL must be a URL/);
  });
});

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    assert.deepEqual(loadConfig({}), {
      redisHost: '127.0.0.1',
      redisPort: 6379,
      queueName: 'digest',
      workerConcurrency: 1,
      workerName: 'worker',
      enableScheduler: false,
      digestEveryMs: 3_600_000,
      memoryMonitorIntervalMs: 60_000,
      memoryThresholdMb: 512,
      containerMemoryMb: undefined,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      REDIS_HOST: 'redis',
      REDIS_PORT: '6380',
      QUEUE_NAME: 'q2',
      WORKER_CONCURRENCY: '4',
      WORKER_NAME: 'dev',
      ENABLE_SCHEDULER: 'true',
      DIGEST_EVERY_MS: '1000',
      MEMORY_MONITOR_INTERVAL_MS: '500',
      MEMORY_THRESHOLD_MB: '256',
      CONTAINER_MEMORY_MB: '768',
    });
    assert.deepEqual(config, {
      redisHost: 'redis',
      redisPort: 6380,
      queueName: 'q2',
      workerConcurrency: 4,
      workerName: 'dev',
      enableScheduler: true,
      digestEveryMs: 1000,
      memoryMonitorIntervalMs: 500,
      memoryThresholdMb: 256,
      containerMemoryMb: 768,
    });
  });

  it('enables the scheduler only for exactly "true"', () => {
    for (const value of ['false', 'TRUE', '1', 'yes', '', 'on']) {
      assert.equal(loadConfig({ ENABLE_SCHEDULER: value }).enableScheduler, false, value);
    }
    assert.equal(loadConfig({ ENABLE_SCHEDULER: 'true' }).enableScheduler, true);
  });

  it('treats empty values as unset', () => {
    assert.equal(loadConfig({ REDIS_PORT: '', WORKER_NAME: ' ' }).redisPort, 6379);
    assert.equal(loadConfig({ WORKER_NAME: '' }).workerName, 'worker');
  });

  it('rejects malformed numbers', () => {
    assert.throws(() => loadConfig({ REDIS_PORT: 'abc' }), /REDIS_PORT/);
    assert.throws(() => loadConfig({ WORKER_CONCURRENCY: '0' }), /WORKER_CONCURRENCY/);
    assert.throws(() => loadConfig({ DIGEST_EVERY_MS: '1.5' }), /DIGEST_EVERY_MS/);
  });

  it('gives BullMQ-compatible redis options', () => {
    assert.deepEqual(redisOptions(loadConfig({ REDIS_HOST: 'r', REDIS_PORT: '1' })), {
      host: 'r',
      port: 1,
      maxRetriesPerRequest: null,
    });
  });
});
