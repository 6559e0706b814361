import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { bytesToMb, MemoryMonitor, type TimerFns } from '../src/memoryMonitor';

const MB = 1024 * 1024;

function recorder() {
  const info: string[] = [];
  const warn: string[] = [];
  return { info, warn, logger: { info: (m: string) => info.push(m), warn: (m: string) => warn.push(m) } };
}

function fakeTimers() {
  const handles: { callback: () => void; ms: number; unref: ReturnType<typeof mock.fn>; cleared: boolean }[] = [];
  const timers: TimerFns = {
    setInterval: (callback, ms) => {
      const handle = { callback, ms, unref: mock.fn(), cleared: false };
      handles.push(handle);
      return handle;
    },
    clearInterval: (handle) => {
      (handle as { cleared: boolean }).cleared = true;
    },
  };
  return { handles, timers, setSpy: mock.method(timers, 'setInterval'), clearSpy: mock.method(timers, 'clearInterval') };
}

describe('bytesToMb', () => {
  it('converts bytes to MiB', () => {
    assert.equal(bytesToMb(0), 0);
    assert.equal(bytesToMb(1048576), 1);
    assert.equal(bytesToMb(402653184), 384);
  });
});

describe('MemoryMonitor', () => {
  it('logs rss, heapUsed and heapTotal in MB on each tick', () => {
    const { info, warn, logger } = recorder();
    const { handles, timers } = fakeTimers();
    const usage = { rss: 120 * MB, heapUsed: 30 * MB, heapTotal: 60 * MB };
    const monitor = new MemoryMonitor(1000, 512, logger, () => usage, timers);
    monitor.start();
    handles[0]!.callback();
    assert.deepEqual(info, ['[memory] rss=120MB heapUsed=30MB heapTotal=60MB']);
    assert.match(info[0]!, /^\[memory\] rss=\d+MB heapUsed=\d+MB heapTotal=\d+MB$/);
    assert.deepEqual(warn, []);
    monitor.stop();
  });

  it('warns when rss is above the threshold', () => {
    const { info, warn, logger } = recorder();
    const monitor = new MemoryMonitor(1000, 256, logger, () => ({ rss: 300 * MB, heapUsed: MB, heapTotal: 2 * MB }));
    monitor.check();
    assert.equal(info.length, 1);
    assert.deepEqual(warn, ['[memory] WARNING rss 300MB above threshold 256MB']);
  });

  it('does not warn when rss equals the threshold', () => {
    const { warn, logger } = recorder();
    new MemoryMonitor(1000, 256, logger, () => ({ rss: 256 * MB, heapUsed: 0, heapTotal: 0 })).check();
    assert.deepEqual(warn, []);
  });

  it('start creates one unref-ed interval with the configured period, even when called twice', () => {
    const { handles, timers, setSpy } = fakeTimers();
    const monitor = new MemoryMonitor(60_000, 512, recorder().logger, undefined, timers);
    monitor.start();
    monitor.start();
    assert.equal(setSpy.mock.callCount(), 1);
    assert.equal(handles[0]!.ms, 60_000);
    assert.equal(handles[0]!.unref.mock.callCount(), 1);
    assert.equal(monitor.running, true);
    monitor.stop();
  });

  it('stop clears the interval and is idempotent', () => {
    const { handles, timers, clearSpy } = fakeTimers();
    const monitor = new MemoryMonitor(1000, 512, recorder().logger, undefined, timers);
    monitor.stop(); // before start: nothing to clear
    assert.equal(clearSpy.mock.callCount(), 0);
    monitor.start();
    monitor.stop();
    monitor.stop();
    assert.equal(clearSpy.mock.callCount(), 1);
    assert.equal(handles[0]!.cleared, true);
    assert.equal(monitor.running, false);
  });

  it('ticks with real timers under node:test mock timers', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const { info, logger } = recorder();
    const monitor = new MemoryMonitor(1000, 512, logger, () => ({ rss: 10 * MB, heapUsed: 5 * MB, heapTotal: 8 * MB }));
    monitor.start();
    t.mock.timers.tick(999);
    assert.equal(info.length, 0);
    t.mock.timers.tick(1);
    assert.equal(info.length, 1);
    t.mock.timers.tick(2000);
    assert.equal(info.length, 3);
    monitor.stop();
    t.mock.timers.tick(5000);
    assert.equal(info.length, 3);
  });
});
