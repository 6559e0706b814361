import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProduceArgs } from '../src/tools/produceArgs';

describe('parseProduceArgs', () => {
  it('parses all options', () => {
    assert.deepEqual(parseProduceArgs(['--prefix', 'P', '--count', '20', '--interval-ms', '10', '--duration-ms', '500']), {
      prefix: 'P',
      count: 20,
      intervalMs: 10,
      durationMs: 500,
    });
  });
  it('defaults interval and duration to 0', () => {
    assert.deepEqual(parseProduceArgs(['--prefix=a', '--count=1']), { prefix: 'a', count: 1, intervalMs: 0, durationMs: 0 });
  });
  it('rejects missing or bad values', () => {
    assert.throws(() => parseProduceArgs(['--count', '1']), /--prefix is required/);
    assert.throws(() => parseProduceArgs(['--prefix', 'p']), /--count is required/);
    assert.throws(() => parseProduceArgs(['--prefix', 'p', '--count', '-1']), /--count/);
    assert.throws(() => parseProduceArgs(['--prefix', 'p', '--count', 'x']), /--count/);
    assert.throws(() => parseProduceArgs(['--prefix', 'p', '--count', '1', '--bogus']), /bogus/);
  });
});
