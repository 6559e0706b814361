import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { installStopHandlers, StopRequests, stopSignals, type Clock, type StopRequest } from '../src/stopRequests';

class FakeClock implements Clock {
  time = 0;
  now() {
    return this.time;
  }
  advance(ms: number) {
    this.time += ms;
  }
}

function setup() {
  const clock = new FakeClock();
  const acted: StopRequest[] = [];
  const requests = new StopRequests((request) => acted.push(request), clock);
  return { clock, acted, requests };
}

describe('StopRequests', () => {
  it('acts on each signal', () => {
    const { clock, acted, requests } = setup();
    requests.signal('SIGTERM');
    clock.advance(500);
    requests.signal('SIGINT');
    assert.deepEqual(acted, [
      { kind: 'signal', signal: 'SIGTERM' },
      { kind: 'signal', signal: 'SIGINT' },
    ]);
  });

  it('takes the same signal twice within 100 ms as one (group signal + a relaying parent)', () => {
    const { clock, acted, requests } = setup();
    requests.signal('SIGTERM');
    clock.advance(3);
    requests.signal('SIGTERM');
    clock.advance(1000);
    requests.signal('SIGTERM'); // a real second one
    assert.equal(acted.length, 2);
  });
});

describe('stopSignals', () => {
  it('has SIGBREAK on Windows only', () => {
    assert.deepEqual(stopSignals('linux'), ['SIGTERM', 'SIGINT', 'SIGHUP']);
    assert.deepEqual(stopSignals('win32'), ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK']);
  });
});

describe('installStopHandlers', () => {
  it('listens to the stop signals and passes each request once', () => {
    const listeners = new Map<string, (() => void)[]>();
    const proc = {
      on(event: string, listener: () => void) {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return proc;
      },
    };
    const acted: StopRequest[] = [];
    installStopHandlers((r) => acted.push(r), proc, new FakeClock());
    assert.deepEqual([...listeners.keys()].sort(), [...stopSignals()].sort());
    for (const listener of listeners.get('SIGTERM') ?? []) listener();
    for (const listener of listeners.get('SIGTERM') ?? []) listener(); // the same signal by a second route
    assert.deepEqual(acted, [{ kind: 'signal', signal: 'SIGTERM' }]);
  });
});
