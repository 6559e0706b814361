import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ReadyFile, readyFilePath } from '../src/readyFile';

describe('readyFilePath', () => {
  it('is undefined when WORKER_READY_FILE is unset or blank, else absolute', () => {
    assert.equal(readyFilePath({}), undefined);
    assert.equal(readyFilePath({ WORKER_READY_FILE: ' ' }), undefined);
    assert.equal(readyFilePath({ WORKER_READY_FILE: 'r' }, '/a'), resolve('/a', 'r'));
  });
});

describe('ReadyFile', () => {
  it('writes the pid atomically and removes the file once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ready-'));
    try {
      const path = join(dir, 'ready');
      const file = new ReadyFile(path);
      file.write(4242);
      assert.equal(readFileSync(path, 'utf8'), '4242\n');
      assert.deepEqual(readdirSync(dir), ['ready']); // no temporary file left
      file.remove();
      assert.equal(existsSync(path), false);
      file.remove(); // no error the second time
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not remove a file it did not write', () => {
    const removed: string[] = [];
    const file = new ReadyFile('/x/ready', {
      writeFileSync: () => {},
      renameSync: () => {},
      unlinkSync: (path) => void removed.push(path),
    });
    file.remove();
    assert.deepEqual(removed, []);
  });

  it('does nothing without a path', () => {
    const file = new ReadyFile(undefined, {
      writeFileSync: () => assert.fail('no write'),
      renameSync: () => assert.fail('no rename'),
      unlinkSync: () => assert.fail('no unlink'),
    });
    file.write();
    file.remove();
  });
});
