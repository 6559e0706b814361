import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registerScheduler } from '../src/scheduler';

function fakeQueue() {
  const calls: unknown[][] = [];
  return { calls, queue: { upsertJobScheduler: async (...args: unknown[]) => { calls.push(args); } } };
}

describe('registerScheduler', () => {
  it('upserts the digest-every scheduler when enabled', async () => {
    const { calls, queue } = fakeQueue();
    assert.equal(await registerScheduler(queue, { enableScheduler: true, digestEveryMs: 5000 }), true);
    assert.deepEqual(calls, [['digest-every', { every: 5000 }, { name: 'scheduled-digest', data: {} }]]);
  });

  it('does nothing (and removes nothing) when disabled', async () => {
    const { calls, queue } = fakeQueue();
    assert.equal(await registerScheduler(queue, { enableScheduler: false, digestEveryMs: 5000 }), false);
    assert.deepEqual(calls, []);
  });
});
