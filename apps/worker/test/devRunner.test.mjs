// Tests of the dev runner the example app runs (`npm run dev`): the shipped one, tasks/runner/devrun.mjs.
// Its pure parts (durations, arguments, /proc parsing, the consumer choice), and the runner itself
// driving a small fake worker that uses the app's real stop handling (src/stopRequests.ts), and a
// wrapper that force-kills its child 1 s after a stop (as `tsx watch` does after 5 s).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  buildOutputs,
  consumersOf,
  formatDuration,
  isBuildOutput,
  parseArgs,
  parseDuration,
  parseStat,
  parseTcp,
  readProcTable,
  redisPorts,
} from '../../../tasks/runner/devrun.mjs';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const runner = join(appDir, '..', '..', 'tasks', 'runner', 'devrun.mjs');

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
});

describe('parseArgs', () => {
  it('takes WORKER_STOP_GRACE_PERIOD, default 30s, and warns on a bad value', () => {
    assert.equal(parseArgs(['--', 'x'], {}).graceMs, 30_000);
    assert.equal(parseArgs(['--', 'x'], { WORKER_STOP_GRACE_PERIOD: '' }).graceMs, 30_000);
    assert.equal(parseArgs(['--', 'x'], { WORKER_STOP_GRACE_PERIOD: '1m30s' }).graceMs, 90_000);
    const bad = parseArgs(['--', 'x'], { WORKER_STOP_GRACE_PERIOD: '45' });
    assert.equal(bad.graceMs, 30_000);
    assert.match(bad.warning ?? '', /WORKER_STOP_GRACE_PERIOD: invalid duration "45" \(missing unit, e\.g\. 30s\); using 30s/);
  });

  it('splits runner options from the command', () => {
    const args = parseArgs(['--watch', 'src', '--grace=5s', '--', 'node', '--import', 'tsx', 'src/main.ts'], {});
    assert.deepEqual(args.watchDirs, ['src']);
    assert.equal(args.graceMs, 5000);
    assert.deepEqual(args.command, ['node', '--import', 'tsx', 'src/main.ts']);
    assert.deepEqual(args.errors, []);
  });

  it('takes --build as one command, split at spaces', () => {
    assert.deepEqual(parseArgs(['--build', 'tsc -p .', '--', 'node', 'dist/main.js'], {}).build, ['tsc', '-p', '.']);
    assert.deepEqual(parseArgs(['--', 'x'], {}).build, []);
    assert.deepEqual(parseArgs(['--build', '', '--', 'x'], {}).errors, ['--build needs a command']);
  });
});

describe('consumers from /proc', () => {
  it('parses a stat line whose name holds spaces and parentheses', () => {
    assert.deepEqual(parseStat('4242 (node (x) y) S 4200 4100 4100 0 -1 4194560'), {
      name: 'node (x) y',
      state: 'S',
      ppid: 4200,
      pgrp: 4100,
    });
  });

  it('keeps the established connections of /proc/net/tcp and tcp6', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:A1B2 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 20 4 30 10 -1',
      '   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 100 0 0 10 0',
      '   2: 0100007F:A1B3 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1',
    ].join('\n');
    assert.deepEqual([...parseTcp(tcp)], [['111', 6379], ['333', 5432]]); // the listener (0A) left out
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0000000000000000FFFF00000100007F:C350 0000000000000000FFFF00000100007F:A0F2 01 00000000:00000000 00:00000000 00000000  1000        0 444 1 0 20 4 30 10 -1',
    ].join('\n');
    assert.deepEqual([...parseTcp(tcp6)], [['444', 41202]]);
  });

  /** @param {Array<[number, number, number, number[]]>} rows pid, ppid, pgrp, remote ports */
  const table = (rows) => new Map(rows.map(([pid, ppid, pgrp, ports]) => [pid, { ppid, pgrp, ports }]));

  it('chooses the processes of the worker holding a connection to Redis: tsx -> node', () => {
    const procs = table([
      [10, 1, 10, []], // tsx
      [11, 10, 10, [6379, 6379, 5432]], // node running the code
      [12, 11, 10, []], // esbuild's service
      [99, 1, 99, [6379]], // another worker of this machine
    ]);
    assert.deepEqual(consumersOf(10, procs, [6379]), [11]);
    assert.deepEqual(consumersOf(10, procs, []), [11]); // no port known: any connection
    assert.deepEqual(consumersOf(10, procs, [41000]), []);
  });

  it('chooses every fork of a cluster primary, and orphans of the worker group', () => {
    const procs = table([
      [20, 1, 20, []],
      [21, 20, 20, [6379]],
      [22, 20, 20, [6379]],
      [23, 1, 20, [6379]], // its parent died: still the worker's
    ]);
    assert.deepEqual(consumersOf(20, procs, [6379]), [21, 22, 23]);
  });

  it('reads this machine (Linux): a process connected to a listener is found by its port', { skip: process.platform !== 'linux' && 'no /proc' }, async () => {
    const server = createServer(() => {});
    await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
    const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
    const child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1000)`], {
      stdio: 'ignore',
    });
    try {
      let found = [];
      for (let i = 0; i < 100 && found.length === 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        found = consumersOf(/** @type {number} */ (child.pid), readProcTable(), [port]);
      }
      assert.deepEqual(found, [child.pid]);
    } finally {
      child.kill('SIGKILL');
      server.close();
    }
  });

  it('reads DEVSTACK_REDIS_PORTS', () => {
    assert.deepEqual(redisPorts('6379, 41234'), [6379, 41234]);
    assert.deepEqual(redisPorts(undefined), []);
    assert.deepEqual(redisPorts('x,0'), []);
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

/**
 * Starts the shipped runner in its own process group on `command` (default: the fake worker, run as
 * the example app's dev script runs its entry); collects its output.
 * @param {Record<string, string>} env
 * @param {(dir: string) => string[]} [command]
 * @param {(dir: string) => string[]} [options] runner options before `--`, beside `--watch <dir>`
 */
function startRunner(env = {}, command, options) {
  const dir = mkdtempSync(join(tmpdir(), 'devrunner-'));
  const argv = command ? command(dir) : ['node', '--import', 'tsx', writeFakeWorker(dir)];
  const proc = spawn(process.execPath, [runner, '--watch', dir, ...(options ? options(dir) : []), '--', ...argv], {
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
  it('SIGTERM to the whole process group: one close, one line, the runner ends by SIGTERM (143 to a shell)', async () => {
    const run = startRunner();
    try {
      await run.waitFor('[fake] ready');
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGTERM' });
      assert.equal(count(run.output(), 'SIGTERM received'), 2, run.output()); // the runner's line, the worker's
      assert.equal(count(run.output(), '[fake] SIGTERM received'), 1, run.output());
      assert.match(run.output(), /\[fake\] closed/);
    } finally {
      run.cleanup();
    }
  });

  it('SIGHUP to the runner alone still reaches the worker once (as SIGTERM); the runner then dies by SIGHUP', async () => {
    const run = startRunner();
    try {
      await run.waitFor('[fake] ready');
      run.proc.kill('SIGHUP');
      // Killed by the signal rather than exit(129): Node 20 aborts in exit() on a hung-up tty.
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGHUP' });
      assert.equal(count(run.output(), '[fake] SIGTERM received'), 1, run.output());
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
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGINT' });
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
      assert.match(run.output(), /\[devrun\] .*other\.ts changed: restarting the worker once it has stopped/);
      assert.equal(count(run.output(), '[fake] SIGTERM received, closing'), 1, run.output());
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGTERM' });
    } finally {
      run.cleanup();
    }
  });

  it('--build runs before the first start and before each restart, while the worker still runs', async () => {
    const build = (dir) => {
      const file = join(dir, 'build.cjs');
      writeFileSync(
        file,
        `const fs = require('node:fs'); const f = ${JSON.stringify(join(dir, 'builds.txt'))};
const n = (fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) : 0) + 1; fs.writeFileSync(f, String(n));
console.log('[build] done ' + n);`,
      );
      return ['--build', `node ${file}`];
    };
    const run = startRunner({}, undefined, build);
    try {
      await run.waitFor('[fake] ready');
      assert.ok(run.output().indexOf('[build] done 1') < run.output().indexOf('[fake] ready'), run.output());
      writeFileSync(join(run.dir, 'other.ts'), 'export {};\n');
      await run.waitFor('[fake] ready', 2);
      const out = run.output();
      // the second build finished before the worker was asked to stop, and one close in between
      assert.ok(out.indexOf('[build] done 2') < out.indexOf('[fake] SIGTERM received'), out);
      assert.equal(count(out, '[fake] SIGTERM received, closing'), 1, out);
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGTERM' });
    } finally {
      run.cleanup();
    }
  });

  it('--build that fails leaves the worker unstarted until a change', async () => {
    const run = startRunner({}, undefined, () => ['--build', 'node -e process.exit(3)']);
    try {
      await run.waitFor('the build failed (code 3): the worker starts after the next change');
      assert.doesNotMatch(run.output(), /\[fake\] ready/);
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGTERM' });
    } finally {
      run.cleanup();
    }
  });

  // The worker is a wrapper (as `tsx watch` or a cluster primary) whose child holds the connection: the
  // wrapper relays a stop and SIGKILLs its child 1 s later. The child needs 2 s to finish its job.
  const WRAPPER = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, [process.argv[1]], { stdio: 'inherit', env: { ...process.env, ROLE: 'child' } });
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { child.kill(s); setTimeout(() => { child.kill('SIGKILL'); process.exit(1); }, 1000); });
child.on('exit', (code) => process.exit(code ?? 1));`;
  const CHILD = `
const { appendFileSync } = require('node:fs');
const log = process.env.CONSUMER_LOG;
require('node:net').connect(Number(process.env.LISTENER_PORT), '127.0.0.1', () => { appendFileSync(log, 'connected\\n'); console.log('[child] connected'); });
let stopping = false;
process.on('SIGTERM', () => { appendFileSync(log, 'SIGTERM\\n'); if (stopping) return; stopping = true; setTimeout(() => { appendFileSync(log, 'finished\\n'); process.exit(0); }, 2000); });
setInterval(() => {}, 1000);`;

  it('a stop goes to the process holding the connection, once, and the wrapper after it (Linux)', { skip: process.platform !== 'linux' && 'no /proc' }, async () => {
    const server = createServer(() => {});
    await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
    const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
    const run = startRunner({ LISTENER_PORT: String(port), DEVSTACK_REDIS_PORTS: String(port) }, (dir) => {
      const script = join(dir, 'worker.cjs');
      writeFileSync(script, `if (process.env.ROLE === 'child') {${CHILD}} else {${WRAPPER}}`);
      process.env.CONSUMER_LOG = join(dir, 'consumer.log');
      return ['node', script];
    });
    try {
      await run.waitFor('[child] connected');
      process.kill(-run.proc.pid, 'SIGTERM');
      assert.deepEqual(await run.exited, { code: null, signal: 'SIGTERM' });
      assert.match(run.output(), /stopping the worker's consumers first \(pid \d+: SIGTERM, once\)/);
      assert.deepEqual(readFileSync(/** @type {string} */ (process.env.CONSUMER_LOG), 'utf8').trim().split('\n'), [
        'connected',
        'SIGTERM',
        'finished',
      ]);
    } finally {
      delete process.env.CONSUMER_LOG;
      server.close();
      run.cleanup();
    }
  });
});

describe('the build output is not watched (--build)', () => {
  // `devstack-run --build tsc -- node dist/index.js` watching its package folder: each build rewrote
  // dist/, which started the next build and restarted the worker, forever.
  it('takes the top folder of the compiled file the command runs, unless it holds TypeScript sources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'devrun-out-'));
    try {
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'main.ts'), '');
      mkdirSync(join(dir, 'dist', 'apps'), { recursive: true });
      writeFileSync(join(dir, 'dist', 'apps', 'main.d.ts'), ''); // declarations are output too
      assert.deepEqual(buildOutputs(['tsc'], ['node', 'dist/apps/main.js'], dir), [join(dir, 'dist')]);
      assert.deepEqual(buildOutputs(['tsc'], ['node', 'build/main.js'], dir), [join(dir, 'build')]); // not built yet
      assert.deepEqual(buildOutputs(['tsc'], ['node', 'src/main.js'], dir), []); // an in-place build
      assert.deepEqual(buildOutputs(['tsc'], ['node', 'main.js'], dir), []); // the working folder itself
      assert.deepEqual(buildOutputs([], ['node', 'dist/apps/main.js'], dir), []); // no build: nothing left out
      const outputs = [join(dir, 'dist')];
      assert.equal(isBuildOutput(join(dir, 'dist', 'apps', 'main.js'), outputs, true), true);
      assert.equal(isBuildOutput(join(dir, 'src', 'main.ts'), outputs, true), false);
      assert.equal(isBuildOutput(join(dir, 'src', 'main.js'), outputs, true), true); // compiled beside its source
      assert.equal(isBuildOutput(join(dir, 'src', 'plain.js'), outputs, true), false);
      assert.equal(isBuildOutput(join(dir, 'dist', 'apps', 'main.js'), outputs, false), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
