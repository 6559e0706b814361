import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  installStopHandlers,
  LISTENING_MESSAGE,
  PAIR_WINDOW_MS,
  parseRunnerMessage,
  STOP_MESSAGE,
  StopRequests,
  stopSignals,
  type Clock,
  type StopRequest,
} from '../src/stopRequests';

/** A clock whose timers run only when advance() passes their time. */
class FakeClock implements Clock {
  time = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;
  now() {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, callback, id });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }
  advance(ms: number) {
    this.time += ms;
    const due = this.timers.filter((timer) => timer.at <= this.time);
    this.timers = this.timers.filter((timer) => timer.at > this.time);
    for (const timer of due) timer.callback();
  }
}

function setup(underRunner: boolean) {
  const clock = new FakeClock();
  const acted: StopRequest[] = [];
  const requests = new StopRequests((request) => acted.push(request), underRunner, clock);
  return { clock, acted, requests };
}

describe('StopRequests without the dev runner', () => {
  it('acts on each signal', () => {
    const { clock, acted, requests } = setup(false);
    requests.signal('SIGTERM');
    clock.advance(500);
    requests.signal('SIGINT');
    assert.deepEqual(acted, [
      { kind: 'signal', signal: 'SIGTERM' },
      { kind: 'signal', signal: 'SIGINT' },
    ]);
  });

  it('takes the same signal twice within 100 ms as one (group signal + a relaying parent)', () => {
    const { clock, acted, requests } = setup(false);
    requests.signal('SIGTERM');
    clock.advance(3);
    requests.signal('SIGTERM');
    clock.advance(1000);
    requests.signal('SIGTERM'); // a real second one
    assert.equal(acted.length, 2);
  });
});

describe('StopRequests under the dev runner', () => {
  it('acts once when the own signal comes first and the runner message follows', () => {
    const { clock, acted, requests } = setup(true);
    requests.signal('SIGTERM');
    assert.deepEqual(acted, []);
    clock.advance(2);
    requests.runner({ kind: 'signal', signal: 'SIGTERM' });
    clock.advance(PAIR_WINDOW_MS * 3);
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGTERM' }]);
  });

  it('acts once when the runner message comes first and the own signal follows', () => {
    const { clock, acted, requests } = setup(true);
    requests.runner({ kind: 'signal', signal: 'SIGINT' });
    clock.advance(5);
    requests.signal('SIGINT');
    clock.advance(PAIR_WINDOW_MS * 3);
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGINT' }]);
  });

  it('acts alone on a signal sent to the worker only, after the pairing window', () => {
    const { clock, acted, requests } = setup(true);
    requests.signal('SIGTERM');
    clock.advance(PAIR_WINDOW_MS - 1);
    assert.deepEqual(acted, []);
    clock.advance(1);
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGTERM' }]);
  });

  it('acts on a message for a signal sent to the runner only, and on a later real signal', () => {
    const { clock, acted, requests } = setup(true);
    requests.runner({ kind: 'signal', signal: 'SIGTERM' });
    clock.advance(PAIR_WINDOW_MS + 500);
    requests.signal('SIGTERM'); // too late to be the same signal
    clock.advance(PAIR_WINDOW_MS);
    assert.equal(acted.length, 2);
  });

  it('pairs each of two group signals with its own message (two Ctrl+C, two lines)', () => {
    const { clock, acted, requests } = setup(true);
    for (let i = 0; i < 2; i += 1) {
      requests.signal('SIGINT');
      requests.runner({ kind: 'signal', signal: 'SIGINT' });
      clock.advance(300);
    }
    clock.advance(PAIR_WINDOW_MS * 3);
    assert.equal(acted.length, 2);
  });

  it('passes restart requests straight through', () => {
    const { acted, requests } = setup(true);
    requests.runner({ kind: 'restart', detail: 'src/x.ts changed' });
    assert.deepEqual(acted, [{ kind: 'restart', detail: 'src/x.ts changed' }]);
  });
});

describe('parseRunnerMessage', () => {
  it('reads signal and restart messages and ignores anything else', () => {
    assert.deepEqual(parseRunnerMessage({ type: STOP_MESSAGE, signal: 'SIGHUP' }), { kind: 'signal', signal: 'SIGHUP' });
    assert.deepEqual(parseRunnerMessage({ type: STOP_MESSAGE, restart: 'a.ts changed' }), {
      kind: 'restart',
      detail: 'a.ts changed',
    });
    assert.equal(parseRunnerMessage({ type: 'other' }), undefined);
    assert.equal(parseRunnerMessage('SIGTERM'), undefined);
    assert.equal(parseRunnerMessage(null), undefined);
  });
});

describe('stopSignals', () => {
  it('has SIGBREAK on Windows only', () => {
    assert.deepEqual(stopSignals('linux'), ['SIGTERM', 'SIGINT', 'SIGHUP']);
    assert.deepEqual(stopSignals('win32'), ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK']);
  });
});

describe('installStopHandlers', () => {
  function fakeProcess(env: Record<string, string>, withChannel: boolean) {
    const listeners = new Map<string, ((...args: unknown[]) => void)[]>();
    const sent: unknown[] = [];
    let unrefs = 0;
    const proc = {
      env,
      on(event: string, listener: (...args: unknown[]) => void) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return proc;
      },
      send: withChannel
        ? (message: unknown, callback: (error: Error | null) => void) => {
            sent.push(message);
            callback(null);
            return true;
          }
        : undefined,
      channel: withChannel ? { unref: () => void (unrefs += 1) } : undefined,
    };
    const emit = (event: string, ...args: unknown[]) => {
      for (const listener of listeners.get(event) ?? []) listener(...args);
    };
    return { proc, emit, sent, listeners, unrefs: () => unrefs };
  }

  it('without the runner: signals only, no IPC', () => {
    const fake = fakeProcess({}, true);
    const acted: StopRequest[] = [];
    const { underRunner } = installStopHandlers((r) => acted.push(r), fake.proc, new FakeClock());
    assert.equal(underRunner, false);
    assert.equal(fake.listeners.has('message'), false);
    fake.emit('SIGTERM');
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGTERM' }]);
  });

  it('under the runner: says it listens, unrefs the channel, one close per group signal, closes when the runner goes', () => {
    const fake = fakeProcess({ DEV_RUNNER_IPC: '1' }, true);
    const acted: StopRequest[] = [];
    const clock = new FakeClock();
    const { underRunner } = installStopHandlers((r) => acted.push(r), fake.proc, clock);
    assert.equal(underRunner, true);
    assert.deepEqual(fake.sent, [{ type: LISTENING_MESSAGE }]);
    assert.equal(fake.unrefs(), 1);
    fake.emit('SIGINT');
    fake.emit('message', { type: STOP_MESSAGE, signal: 'SIGINT' });
    clock.advance(PAIR_WINDOW_MS * 2);
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGINT' }]);
    fake.emit('disconnect');
    assert.deepEqual(acted[1], { kind: 'runner-gone' });
  });

  it('ignores DEV_RUNNER_IPC without an IPC channel', () => {
    const fake = fakeProcess({ DEV_RUNNER_IPC: '1' }, false);
    assert.equal(installStopHandlers(() => {}, fake.proc, new FakeClock()).underRunner, false);
  });
});
