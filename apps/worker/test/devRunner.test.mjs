// Tests of the dev runner (scripts/dev.mjs): the duration parser, and the runner itself driving a
// small fake worker that uses the real stop handling (src/stopRequests.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatDuration, parseDuration, stopGraceFromEnv } from '../scripts/duration.mjs';
import { parseArgs } from '../scripts/dev.mjs';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('parseDuration (Compose syntax)', () => {
  it('reads single and combined units', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('.5s'), 500);
    assert.equal(parseDuration('2m500ms'), 120_500);
    assert.equal(parseDuration('1500us'), 1.5);
    assert.equal(parseDuration('1500µs'), 1.5);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(' 10s '), 10_000);
  });

  it('rejects what Compose rejects', () => {
    for (const bad of ['', '30', '-5s', '1d', 's', '1m 30s', '30 s', '1.2.3s', 'abc']) {
      assert.throws(() => parseDuration(bad), Error, bad);
    }
    assert.throws(() => parseDuration('30'), /missing unit/);
  });

  it('formats for log lines', () => {
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(120_000), '2m');
  });

  it('takes WORKER_STOP_GRACE_PERIOD, default 30s, and warns on a bad value', () => {
    assert.deepEqual(stopGraceFromEnv({}), { ms: 30_000 });
    assert.deepEqual(stopGraceFromEnv({ WORKER_STOP_GRACE_PERIOD: '' }), { ms: 30_000 });
    assert.deepEqual(stopGraceFromEnv({ WORKER_STOP_GRACE_PERIOD: '1m30s' }), { ms: 90_000 });
    const bad = stopGraceFromEnv({ WORKER_STOP_GRACE_PERIOD: '45' });
    assert.equal(bad.ms, 30_000);
    assert.match(bad.warning ?? '', /WORKER_STOP_GRACE_PERIOD: invalid duration "45" \(missing unit, e\.g\. 30s\); using 30s/);
  });
});

describe('parseArgs', () => {
  it('splits node options, the entry and its arguments', () => {
    assert.deepEqual(parseArgs([]), { nodeArgs: [], entry: undefined, scriptArgs: [] });
    assert.deepEqual(parseArgs(['--inspect=9230', 'src/main.ts', 'a', '--b']), {
      nodeArgs: ['--inspect=9230'],
      entry: 'src/main.ts',
      scriptArgs: ['a', '--b'],
    });
    assert.deepEqual(parseArgs(['--inspect', '--', '-x']), { nodeArgs: ['--inspect'], entry: undefined, scriptArgs: ['-x'] });
  });
});

/** A fake worker using the real stop handling; closing takes FAKE_CLOSE_MS. */
function writeFakeWorker(dir) {
  const stopRequests = pathToFileURL(join(appDir, 'src', 'stopRequests.ts')).href;
  const file = join(dir, 'fake.mts');
  writeFileSync(
    file,
    `import { installStopHandlers } from ${JSON.stringify(stopRequests)};
let closing = false;
installStopHandlers((request) => {
  const label = request.kind === 'signal' ? request.signal + ' received' : request.kind;
  if (closing) return console.log('[fake] ' + label + ', already closing');
  closing = true;
  console.log('[fake] ' + label + ', closing');
  setTimeout(() => { console.log('[fake] closed'); process.exit(0); }, Number(process.env.FAKE_CLOSE_MS ?? 0));
});
console.log('[fake] ready pid=' + process.pid);
setInterval(() => {}, 1000);
`,
  );
  return file;
}

/** Starts the runner on the fake worker in its own process group; collects its output. */
function startRunner(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'devrunner-'));
  const entry = writeFakeWorker(dir);
  const proc = spawn(process.execPath, [join(appDir, 'scripts', 'dev.mjs'), entry], {
    cwd: appDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: process.platform !== 'win32',
  });
  let output = '';
  const waiters = [];
  proc.stdout.on('data', (chunk) => {
    output += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  const waitFor = (text, count = 1, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (output.split(text).length - 1 >= count) {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(output);
        }
      };
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}:\n${output}`)), timeoutMs);
      waiters.push(check);
      check();
    });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const cleanup = () => {
    try {
      if (process.platform !== 'win32') process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { proc, dir, waitFor, exited, output: () => output, cleanup };
}

const count = (text, part) => text.split(part).length - 1;

describe('dev runner', { skip: process.platform === 'win32' && 'POSIX signals' }, () => {
  it('SIGTERM to the whole process group: one close, one line, exit 143', async () => {
    const run = startRunner();
    try {
      await run.waitFor('[fake] ready');
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: 143, signal: null });
      assert.equal(count(run.output(), 'SIGTERM received'), 1, run.output());
      assert.match(run.output(), /\[fake\] closed/);
    } finally {
      run.cleanup();
    }
  });

  it('SIGHUP to the runner alone still reaches the worker once; the runner then dies by SIGHUP', async () => {
    const run = startRunner();
    try {
      await run.waitFor('[fake] ready');
      run.proc.kill('SIGHUP');
      // Killed by the signal rather than exit(129): Node 20 aborts in exit() on a hung-up tty.
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGHUP' });
      assert.equal(count(run.output(), 'SIGHUP received'), 1, run.output());
    } finally {
      run.cleanup();
    }
  });

  it('kills a worker that outlives WORKER_STOP_GRACE_PERIOD', async () => {
    const run = startRunner({ WORKER_STOP_GRACE_PERIOD: '300ms', FAKE_CLOSE_MS: '20000' });
    try {
      await run.waitFor('[fake] ready');
      process.kill(-run.proc.pid, 'SIGINT');
      // The fake worker would take 20 s to close: the runner's kill line, then its exit, come first.
      assert.deepEqual(await run.exited, { code: 130, signal: null });
      assert.match(run.output(), /still running 300ms after the stop request \(WORKER_STOP_GRACE_PERIOD\): killing it/);
      assert.doesNotMatch(run.output(), /\[fake\] closed/);
    } finally {
      run.cleanup();
    }
  });

  it('restarts the worker once on a change, with one close', async () => {
    const run = startRunner();
    try {
      await run.waitFor('[fake] ready');
      writeFileSync(join(run.dir, 'other.ts'), 'export {};\n');
      await run.waitFor('[fake] ready', 2);
      assert.match(run.output(), /\[dev\] .*other\.ts changed, restarting the worker/);
      assert.equal(count(run.output(), '[fake] restart, closing'), 1, run.output());
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: 143, signal: null });
    } finally {
      run.cleanup();
    }
  });
});
