import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CGROUP_V1_CPU_PERIOD,
  CGROUP_V1_CPU_QUOTA,
  CGROUP_V1_MEMORY_LIMIT,
  CGROUP_V2_CPU_MAX,
  CGROUP_V2_MEMORY_MAX,
  parseCpuMaxV2,
  parseCpuV1,
  parseMemoryLimit,
  readCgroupLimits,
  readCgroupMemoryLimitBytes,
} from '../src/cgroup';

const files = (map: Record<string, string>) => (path: string) => map[path];

describe('parseMemoryLimit', () => {
  it('parses a byte count (with trailing newline)', () => {
    assert.equal(parseMemoryLimit('536870912\n'), 536870912);
  });
  it('treats "max" and huge values as unlimited', () => {
    assert.equal(parseMemoryLimit('max\n'), null);
    assert.equal(parseMemoryLimit('9223372036854771712\n'), null); // cgroup v1 "unlimited"
    assert.equal(parseMemoryLimit(String(2 ** 60)), null);
  });
  it('returns null for empty or garbage content', () => {
    assert.equal(parseMemoryLimit(''), null);
    assert.equal(parseMemoryLimit('abc'), null);
    assert.equal(parseMemoryLimit('0'), null);
  });
});

describe('cpu parsing', () => {
  it('parses cgroup v2 cpu.max', () => {
    assert.deepEqual(parseCpuMaxV2('300000 100000\n'), { quotaUs: 300000, periodUs: 100000 });
    assert.deepEqual(parseCpuMaxV2('max 100000\n'), { quotaUs: null, periodUs: 100000 });
  });
  it('parses cgroup v1 quota and period, -1 meaning unlimited', () => {
    assert.deepEqual(parseCpuV1('150000\n', '100000\n'), { quotaUs: 150000, periodUs: 100000 });
    assert.deepEqual(parseCpuV1('-1\n', '100000\n'), { quotaUs: null, periodUs: 100000 });
    assert.deepEqual(parseCpuV1('-1\n', undefined), { quotaUs: null, periodUs: null });
  });
});

describe('readCgroupLimits', () => {
  it('reads cgroup v2', () => {
    const read = files({ [CGROUP_V2_MEMORY_MAX]: '536870912\n', [CGROUP_V2_CPU_MAX]: '50000 100000\n' });
    assert.deepEqual(readCgroupLimits(read), {
      version: 2,
      memoryLimitBytes: 536870912,
      cpuQuotaUs: 50000,
      cpuPeriodUs: 100000,
    });
    assert.equal(readCgroupMemoryLimitBytes(read), 536870912);
  });
  it('reads unlimited cgroup v2', () => {
    const read = files({ [CGROUP_V2_MEMORY_MAX]: 'max\n', [CGROUP_V2_CPU_MAX]: 'max 100000\n' });
    assert.deepEqual(readCgroupLimits(read), { version: 2, memoryLimitBytes: null, cpuQuotaUs: null, cpuPeriodUs: 100000 });
  });
  it('reads cgroup v1', () => {
    const read = files({
      [CGROUP_V1_MEMORY_LIMIT]: '268435456\n',
      [CGROUP_V1_CPU_QUOTA]: '200000\n',
      [CGROUP_V1_CPU_PERIOD]: '100000\n',
    });
    assert.deepEqual(readCgroupLimits(read), {
      version: 1,
      memoryLimitBytes: 268435456,
      cpuQuotaUs: 200000,
      cpuPeriodUs: 100000,
    });
  });
  it('reads unlimited cgroup v1', () => {
    const read = files({
      [CGROUP_V1_MEMORY_LIMIT]: '9223372036854771712\n',
      [CGROUP_V1_CPU_QUOTA]: '-1\n',
      [CGROUP_V1_CPU_PERIOD]: '100000\n',
    });
    assert.deepEqual(readCgroupLimits(read), { version: 1, memoryLimitBytes: null, cpuQuotaUs: null, cpuPeriodUs: 100000 });
  });
  it('returns nulls without cgroup files', () => {
    assert.deepEqual(readCgroupLimits(files({})), {
      version: null,
      memoryLimitBytes: null,
      cpuQuotaUs: null,
      cpuPeriodUs: null,
    });
    assert.equal(readCgroupMemoryLimitBytes(files({})), null);
  });
});
