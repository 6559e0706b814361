import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProcessor, INSERT_RESULT_SQL, jobDuration } from '../src/processor';

function fakeDb() {
  const calls: { text: string; values?: unknown[] }[] = [];
  return { calls, db: { query: async (text: string, values?: unknown[]) => { calls.push({ text, values }); } } };
}

describe('processor', () => {
  it('inserts one idempotent row with the worker name', async () => {
    const { calls, db } = fakeDb();
    const slept: number[] = [];
    const process = createProcessor({ db, workerName: 'w1', sleep: async (ms) => { slept.push(ms); }, now: () => 1700 });
    const result = await process({ id: 'p-1', name: 'digest', data: { durationMs: 250 }, timestamp: 1500 });
    assert.deepEqual(result, { processedBy: 'w1' });
    assert.deepEqual(slept, [250]);
    // added_at from BullMQ's job.timestamp, started_at taken before the work begins
    assert.deepEqual(calls, [{ text: INSERT_RESULT_SQL, values: ['p-1', 'digest', 'w1', 1500, 1700] }]);
  });

  it('runs a load job (allocates its MB) and still records it once', async () => {
    const { calls, db } = fakeDb();
    const result = await createProcessor({ db, workerName: 'w2', now: () => 42 })({ id: 'l-1', name: 'load', data: { mb: 2 } });
    assert.deepEqual(result, { processedBy: 'w2' });
    assert.deepEqual(calls, [{ text: INSERT_RESULT_SQL, values: ['l-1', 'load', 'w2', null, 42] }]);
  });

  it('does not sleep without a duration', async () => {
    const { db } = fakeDb();
    const slept: number[] = [];
    const process = createProcessor({ db, workerName: 'w', sleep: async (ms) => { slept.push(ms); } });
    await process({ id: '1', name: 'scheduled-digest', data: {} });
    await process({ id: '2', name: 'digest', data: null });
    assert.deepEqual(slept, []);
  });

  it('really waits durationMs by default: the row is written after the wait, not before', async () => {
    const { calls, db } = fakeDb();
    const job = createProcessor({ db, workerName: 'w' })({ id: '1', name: 'digest', data: { durationMs: 200 } });
    // Without a wait the insert would already have run (it is only promises away); a timer cannot fire
    // before this check phase of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 0);
    await job;
    assert.deepEqual(calls.map((c) => c.values?.[0]), ['1']);
  });

  it('propagates database errors so BullMQ can retry the job', async () => {
    const db = { query: async () => { throw new Error('connection refused'); } };
    await assert.rejects(createProcessor({ db, workerName: 'w' })({ id: '1', name: 'digest', data: {} }), /refused/);
  });

  it('normalises durations', () => {
    assert.equal(jobDuration(undefined), 0);
    assert.equal(jobDuration({}), 0);
    assert.equal(jobDuration({ durationMs: -5 }), 0);
    assert.equal(jobDuration({ durationMs: 'x' as unknown as number }), 0);
    assert.equal(jobDuration({ durationMs: 10 }), 10);
  });
});
