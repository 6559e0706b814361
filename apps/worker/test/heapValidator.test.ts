import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIB, validateHeapConfiguration } from '../src/heapValidator';

function run(heapMib: number, opts: { env?: Record<string, string>; cgroupBytes?: number | null } = {}) {
  const info: string[] = [];
  const warn: string[] = [];
  const result = validateHeapConfiguration({
    heapSizeLimitBytes: heapMib * MIB,
    env: opts.env ?? {},
    readCgroupMemoryLimitBytes: () => opts.cgroupBytes ?? null,
    logger: { info: (m) => info.push(m), warn: (m) => warn.push(m) },
  });
  return { result, info, warn };
}

describe('validateHeapConfiguration', () => {
  it('warns when the heap limit is 440 of 512 MiB (85.9 %)', () => {
    const { result, info, warn } = run(440, { env: { CONTAINER_MEMORY_MB: '512' } });
    assert.equal(result.warning, true);
    assert.deepEqual(info, ['[heap] heap_size_limit=440 MiB container_memory=512 MiB (CONTAINER_MEMORY_MB) ratio=85.9%']);
    assert.equal(warn.length, 1);
    assert.match(warn[0]!, /^\[heap\] WARNING heap limit exceeds 85% of container memory/);
  });

  it('does not warn at 384 of 512 MiB (75 %)', () => {
    const { result, info, warn } = run(384, { cgroupBytes: 512 * MIB });
    assert.equal(result.warning, false);
    assert.equal(result.ratioPercent, 75);
    assert.deepEqual(info, ['[heap] heap_size_limit=384 MiB container_memory=512 MiB (cgroup) ratio=75.0%']);
    assert.deepEqual(warn, []);
  });

  it('does not warn at exactly 85 %', () => {
    const { result, warn } = run(850, { env: { CONTAINER_MEMORY_MB: '1000' } });
    assert.equal(result.warning, false);
    assert.deepEqual(warn, []);
    // 85 % of 512 MiB is 435.2 MiB: still exactly 85 %, still no warning.
    const fractional = run(435.2, { cgroupBytes: 512 * MIB });
    assert.equal(fractional.result.warning, false);
    assert.deepEqual(fractional.warn, []);
  });

  it('warns just above 85 %', () => {
    assert.equal(run(851, { env: { CONTAINER_MEMORY_MB: '1000' } }).result.warning, true);
  });

  it('says once that the check does not apply without CONTAINER_MEMORY_MB or a cgroup limit', () => {
    // The dev worker on the host: a 4 GiB heap must not be compared with an assumed 512 MiB.
    const { result, info, warn } = run(4144);
    assert.equal(result.containerMemoryMib, null);
    assert.equal(result.ratioPercent, null);
    assert.equal(result.source, 'none');
    assert.equal(result.warning, false);
    assert.deepEqual(info, [
      '[heap] heap_size_limit=4144 MiB; no container memory limit (no cgroup limit, CONTAINER_MEMORY_MB unset): ' +
        'the 85% check does not apply',
    ]);
    assert.deepEqual(warn, []);
  });

  it('still warns without a cgroup limit when CONTAINER_MEMORY_MB is set explicitly', () => {
    const { result, warn } = run(4144, { env: { CONTAINER_MEMORY_MB: '512' } });
    assert.equal(result.source, 'CONTAINER_MEMORY_MB');
    assert.equal(result.warning, true);
    assert.equal(warn.length, 1);
  });

  it('uses a custom CONTAINER_MEMORY_MB over the cgroup limit', () => {
    const { result, info, warn } = run(440, { env: { CONTAINER_MEMORY_MB: '1024' }, cgroupBytes: 256 * MIB });
    assert.equal(result.source, 'CONTAINER_MEMORY_MB');
    assert.equal(result.containerMemoryMib, 1024);
    assert.deepEqual(info, ['[heap] heap_size_limit=440 MiB container_memory=1024 MiB (CONTAINER_MEMORY_MB) ratio=43.0%']);
    assert.deepEqual(warn, []);
  });

  it('ignores an empty CONTAINER_MEMORY_MB and uses the cgroup limit', () => {
    const { result } = run(100, { env: { CONTAINER_MEMORY_MB: '' }, cgroupBytes: 1024 * MIB });
    assert.equal(result.source, 'cgroup');
    assert.equal(result.containerMemoryMib, 1024);
  });

  it('rejects a malformed CONTAINER_MEMORY_MB', () => {
    assert.throws(() => run(100, { env: { CONTAINER_MEMORY_MB: 'lots' } }), /CONTAINER_MEMORY_MB/);
  });

  it('reads the real heap limit when none is injected', () => {
    const info: string[] = [];
    const result = validateHeapConfiguration({
      env: {},
      readCgroupMemoryLimitBytes: () => null,
      logger: { info: (m) => info.push(m), warn: () => {} },
    });
    assert.ok(result.heapSizeLimitMib > 0);
    assert.equal(info.length, 1);
    assert.match(info[0]!, /^\[heap\] heap_size_limit=\d+(\.\d)? MiB; no container memory limit .*: the 85% check does not apply$/);
  });
});
