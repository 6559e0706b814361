import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatePath, waitForGate } from '../src/startGate';

describe('startGatePath', () => {
  it('is undefined when WORKER_START_GATE is unset or blank', () => {
    assert.equal(startGatePath({}), undefined);
    assert.equal(startGatePath({ WORKER_START_GATE: '  ' }), undefined);
  });

  it('resolves a relative path from the working directory', () => {
    assert.equal(startGatePath({ WORKER_START_GATE: 'gate' }, '/some/dir'), resolve('/some/dir', 'gate'));
    const absolute = resolve('/tmp/x/open');
    assert.equal(startGatePath({ WORKER_START_GATE: ` ${absolute} ` }, '/else'), absolute);
  });
});

describe('waitForGate', () => {
  it('polls until the file exists', async () => {
    let checks = 0;
    const waits: number[] = [];
    const open = await waitForGate('/gate', {
      exists: () => ++checks === 4,
      sleep: async (ms) => void waits.push(ms),
    });
    assert.equal(open, true);
    assert.deepEqual(waits, [20, 20, 20]);
  });

  it('returns false when a shutdown starts first', async () => {
    let polls = 0;
    const open = await waitForGate('/gate', {
      exists: () => false,
      stopped: () => ++polls > 2,
      sleep: async () => {},
    });
    assert.equal(open, false);
  });

  it('sees a real file created while waiting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gate-'));
    try {
      const gate = join(dir, 'open');
      let opened = false;
      const waiting = waitForGate(gate).then((open) => {
        opened = true;
        return open;
      });
      await sleep(100); // several polls with no file: still waiting
      assert.equal(opened, false);
      writeFileSync(gate, '');
      assert.equal(await waiting, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
