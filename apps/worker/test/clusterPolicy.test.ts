import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childEnv, isWorkerSample, processCount, restartDelayMs } from '../src/clusterPolicy';

describe('cluster policy', () => {
  it('reads WORKER_PROCESSES, default 1, refuses nonsense', () => {
    assert.equal(processCount({}), 1);
    assert.equal(processCount({ WORKER_PROCESSES: '3' }), 3);
    for (const bad of ['0', '-1', '1.5', 'two']) assert.throws(() => processCount({ WORKER_PROCESSES: bad }), /WORKER_PROCESSES/);
  });

  it('gives the scheduler to process 1 only, and names processes when there are several', () => {
    const env = { ENABLE_SCHEDULER: 'true', WORKER_NAME: 'background' };
    assert.deepEqual(childEnv(env, 1, 1), { WORKER_INDEX: '1', WORKER_NAME: 'background', ENABLE_SCHEDULER: 'true' });
    assert.deepEqual(childEnv(env, 1, 3), { WORKER_INDEX: '1', WORKER_NAME: 'background.1', ENABLE_SCHEDULER: 'true' });
    assert.deepEqual(childEnv(env, 2, 3), { WORKER_INDEX: '2', WORKER_NAME: 'background.2', ENABLE_SCHEDULER: 'false' });
    assert.equal(childEnv({ ENABLE_SCHEDULER: 'false' }, 1, 2).ENABLE_SCHEDULER, 'false');
  });

  it('backs off against crash loops, capped at 30 s', () => {
    assert.deepEqual([1, 2, 3, 4].map(restartDelayMs), [500, 1000, 2000, 4000]);
    assert.equal(restartDelayMs(20), 30_000);
  });

  it('recognises worker samples', () => {
    assert.ok(isWorkerSample({ type: 'devstack-sample', pid: 1 }));
    assert.ok(!isWorkerSample({ type: 'other', pid: 1 }));
    assert.ok(!isWorkerSample(null));
  });
});
