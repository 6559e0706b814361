import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSize, retainedMb, runLoadJob } from '../src/loadJob';
import { parseLoadArgs, retains } from '../src/tools/loadArgs';

describe('load jobs', () => {
  it('reads sizes defensively', () => {
    assert.deepEqual(loadSize({ mb: 8.7, holdMs: 5, retain: true }), { mb: 8, holdMs: 5, retain: true });
    assert.deepEqual(loadSize(null), { mb: 0, holdMs: 0, retain: false });
    assert.deepEqual(loadSize({ mb: -3, holdMs: Number.NaN }), { mb: 0, holdMs: 0, retain: false });
  });

  it('allocates MiB chunks and keeps only what it retains', async () => {
    // How much of the V8 heap stays after a full collection depends on GC timing: that measurement is
    // bench/load_heap.mjs's, not a test's.
    assert.equal(await runLoadJob({ mb: 4 }), 4);
    assert.equal(retainedMb(), 0);
    assert.equal(await runLoadJob({ mb: 8, retain: true }), 8);
    assert.equal(retainedMb(), 8);
    assert.equal(await runLoadJob({ mb: 2 }), 2);
    assert.equal(retainedMb(), 8);
  });

  it('spreads retaining jobs evenly', () => {
    const picked = Array.from({ length: 12 }, (_, i) => i + 1).filter((n) => retains(n, 0.25));
    assert.deepEqual(picked, [4, 8, 12]);
    assert.equal(Array.from({ length: 10 }, (_, i) => retains(i + 1, 0)).filter(Boolean).length, 0);
    assert.equal(Array.from({ length: 10 }, (_, i) => retains(i + 1, 1)).filter(Boolean).length, 10);
  });

  it('parses the load arguments', () => {
    const args = parseLoadArgs(['--prefix', 'p', '--count', '5', '--mb', '32', '--retain-share', '0.5']);
    assert.equal(args.count, 5);
    assert.equal(args.mb, 32);
    assert.equal(args.retainShare, 0.5);
    assert.throws(() => parseLoadArgs(['--prefix', 'p']), /exactly one/);
    assert.throws(() => parseLoadArgs(['--prefix', 'p', '--count', '1', '--duration-s', '2']), /exactly one/);
    assert.throws(() => parseLoadArgs(['--prefix', 'p', '--count', '1', '--retain-share', '2']), /fraction/);
  });
});
