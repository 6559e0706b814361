#!/usr/bin/env node
// @ts-check
/**
 * devstack-run: a dev runner for any worker app that never cuts a job. Plain Node ESM, no
 * dependencies (Node 18+; Windows: see below). Shipped with the tasks; in invoke.yaml:
 *
 *   app:
 *     dev: devstack-run -- tsx src/main.ts        # or: node dist/main.js, ts-node src/main.ts, ...
 *
 *   node devrun.mjs [--watch DIR]... [--ext .ts,.js,...] [--grace 30s] [--build CMD] -- COMMAND [ARGS...]
 *
 * It runs COMMAND (the worker) as one child, watches DIR (default: the working folder; node_modules
 * and dot folders skipped) and, when a source file changes, stops the worker gracefully (SIGTERM,
 * then up to the grace period for its active job, then SIGKILL) and only then starts it again.
 * Watchers such as `tsx watch` (SIGKILL 5 s after a stop), nodemon (SIGUSR2 restart, SIGHUP =
 * restart) or `concurrently 'tsc -w' 'nodemon dist'` (a restart on every compile) cut jobs instead.
 *
 * --build CMD (one argument, split at spaces, no shell; e.g. `--build tsc`): run before the first
 * start and after each change, to completion, while the running worker keeps serving; only a build
 * that succeeded restarts the worker (a failed one leaves it running, or unstarted, until the next
 * change). For an app run from its compiled output (`-- node dist/main.js`) without tsx: a
 * compiler in watch mode beside the runner would have the worker start before the first compile and
 * restart mid-write.
 *
 * Stops: on SIGINT, SIGTERM or SIGHUP the worker gets ONE signal (a hang-up is passed on as
 * SIGTERM), the grace period is waited for, and the runner exits 128 + the signal's number. A
 * second stop request (a person pressing Ctrl+C again, not the same signal by a second route within
 * 100 ms) is passed on as SIGTERM. The worker runs in its own process group so that a signal to the
 * runner's group (a terminal's Ctrl+C, `inv dev.worker` forwarding) reaches it once, through here.
 * If the worker exits by itself, the runner ends with its code: a dev session must not keep the
 * queue for a worker that no longer runs.
 *
 * The worker's consumers (Linux): what holds the jobs is often not the worker's own process (`tsx`
 * runs the code in a child node, a node:cluster primary forks the consumers and forwards nothing).
 * A stop (a signal, or a restart on a change) therefore goes to the processes of the worker's tree
 * that hold an established TCP connection (to the Redis port(s) in DEVSTACK_REDIS_PORTS, which
 * `inv dev.worker` sets; to anything when it is not set), read from /proc: each gets the signal once,
 * every fork included, a consumer appearing meanwhile too; once they have exited, what remains of the
 * worker's process group gets it. With no consumer found it is said in one line and the worker's own
 * process gets the signal, as it does on macOS and Windows (said once when the runner starts).
 *
 * The grace period: --grace, else WORKER_STOP_GRACE_PERIOD (Compose syntax, as the background
 * container's stop_grace_period), else 30s.
 *
 * Windows has no signal Node can send a child gracefully (child.kill() terminates it at once): a
 * console Ctrl+C reaches the worker from the console itself and the runner only waits; a change is
 * reported but the worker is not restarted (that would cut its job): stop it with Ctrl+C and start
 * it again.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync, watch } from 'node:fs';
import { constants } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const IS_WINDOWS = process.platform === 'win32';
const STOP_SIGNALS = /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']).filter(
  (signal) => constants.signals[signal] !== undefined,
);
const DEBOUNCE_MS = 150;
/** The same signal again within this time is the same request by a second route. */
const DUPLICATE_SIGNAL_MS = 100;
const POLL_MS = 500;
/** How often a stop looks at the worker's consumers (new ones, gone ones). */
const CONSUMER_POLL_MS = 200;
const DEFAULT_EXTENSIONS = ['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.json'];
const SKIPPED_DIRS = new Set(['node_modules']);
export const DEFAULT_GRACE_MS = 30_000;

/** @param {string} message */
function log(message) {
  try {
    console.log(`[devrun] ${message}`);
  } catch {
    // a closed terminal must not stop the runner while the worker finishes its job
  }
}

// -- durations (Compose syntax, as in the background container's stop_grace_period) -----------
const UNIT_MS = /** @type {Record<string, number>} */ ({
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
});
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** @param {string} text */
export function parseDuration(text) {
  const value = String(text).trim();
  if (value === '') throw new Error('empty duration');
  if (value === '0') return 0;
  let total = 0;
  let position = 0;
  while (position < value.length) {
    PART.lastIndex = position;
    const match = PART.exec(value);
    if (match === null) {
      const hint = /^\d+(\.\d+)?$/.test(value) ? ' (missing unit, e.g. 30s)' : '';
      throw new Error(`invalid duration ${JSON.stringify(text)}${hint}`);
    }
    total += Number(match[1]) * /** @type {number} */ (UNIT_MS[/** @type {string} */ (match[2])]);
    position = PART.lastIndex;
  }
  return total;
}

/** @param {number} ms */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round(((ms % 60_000) / 1000) * 1000) / 1000;
  if (minutes === 0) return `${seconds}s`;
  return seconds === 0 ? `${minutes}m` : `${minutes}m${seconds}s`;
}

/**
 * The command line: runner options, then `--` and the worker's command. Without `--`, the first
 * word that is not a runner option starts the command.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 */
export function parseArgs(argv, env = {}) {
  /** @type {string[]} */
  const watchDirs = [];
  let extensions = DEFAULT_EXTENSIONS;
  let graceText = env.WORKER_STOP_GRACE_PERIOD?.trim() || undefined;
  let graceFrom = 'WORKER_STOP_GRACE_PERIOD';
  /** @type {string[]} */
  let build = [];
  /** @type {string[]} */
  let command = [];
  /** @type {string[]} */
  const errors = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = /** @type {string} */ (argv[i]);
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (arg === '--') {
      command = argv.slice(i + 1);
      break;
    } else if (flag === '--watch' || flag === '-w') {
      const dir = value();
      if (dir) watchDirs.push(dir);
      else errors.push('--watch needs a folder');
    } else if (flag === '--ext') {
      const list = value() ?? '';
      extensions = list
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)
        .map((e) => (e.startsWith('.') ? e : `.${e}`));
    } else if (flag === '--grace') {
      graceText = value();
      graceFrom = '--grace';
    } else if (flag === '--build') {
      build = (value() ?? '').split(/\s+/).filter(Boolean);
      if (build.length === 0) errors.push('--build needs a command');
    } else if (arg.startsWith('-')) {
      errors.push(`unknown option ${arg} (the worker's command goes after --)`);
    } else {
      command = argv.slice(i);
      break;
    }
  }
  let graceMs = DEFAULT_GRACE_MS;
  /** @type {string | undefined} */
  let warning;
  if (graceText !== undefined) {
    try {
      graceMs = parseDuration(graceText);
    } catch (error) {
      warning = `${graceFrom}: ${/** @type {Error} */ (error).message}; using ${formatDuration(DEFAULT_GRACE_MS)}`;
    }
  }
  if (command.length === 0) errors.push('no command to run: devstack-run [options] -- COMMAND [ARGS...]');
  return { watchDirs: watchDirs.length ? watchDirs : ['.'], extensions, graceMs, warning, build, command, errors };
}

/**
 * Is a changed path a source file the worker loads (not a dot file, editor swap or log)?
 * @param {string} path
 * @param {string[]} extensions
 */
export function isSourceChange(path, extensions) {
  const name = basename(path);
  if (name.startsWith('.') || name.endsWith('~')) return false;
  if (path.split(/[\\/]/).some((part) => SKIPPED_DIRS.has(part) || (part.startsWith('.') && part.length > 1 && part !== '..'))) {
    return false;
  }
  return extensions.includes(extname(name));
}

const COMPILED = /^(.*)\.(c|m)?js$/;
const TYPESCRIPT = ['.ts', '.mts', '.cts', '.tsx'];

/**
 * With `--build`, the folder the build writes the worker's code to: the top folder (below the working
 * one) of the compiled file the command runs (`node dist/apps/worker/main.js` -> dist), unless it holds
 * TypeScript sources itself (an in-place build). Every build rewrites it: watched, each build would
 * start the next one and restart the worker forever.
 * @param {string[]} build
 * @param {string[]} command
 * @param {string} cwd
 * @returns {string[]} absolute folders
 */
export function buildOutputs(build, command, cwd = process.cwd()) {
  if (build.length === 0) return [];
  const found = [];
  for (const arg of command.slice(1)) {
    if (arg.startsWith('-') || !COMPILED.test(arg)) continue;
    const [top, ...rest] = relative(cwd, resolve(cwd, arg)).split(/[\\/]/);
    if (top === undefined || rest.length === 0 || top === '..') continue; // in the working folder itself, or outside it
    const folder = join(cwd, top);
    if (!holdsTypeScript(folder)) found.push(folder);
  }
  return found;
}

/** @param {string} folder */
function holdsTypeScript(folder, budget = { left: 5000 }) {
  let names = [];
  try {
    names = readdirSync(folder, { withFileTypes: true });
  } catch {
    return false; // not built yet
  }
  for (const entry of names) {
    if (--budget.left < 0) return false;
    const path = join(folder, entry.name);
    if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name) && holdsTypeScript(path, budget)) return true;
    if (entry.isFile() && TYPESCRIPT.includes(extname(entry.name)) && !/\.d\.(c|m)?ts$/.test(entry.name)) return true;
  }
  return false;
}

/**
 * Is a changed path the build's own output (with `--build`): in one of its ``outputs`` folders, or a
 * compiled file beside its TypeScript source (`main.js` next to `main.ts`, an in-place build)?
 * @param {string} path
 * @param {string[]} outputs
 * @param {boolean} building
 */
export function isBuildOutput(path, outputs, building) {
  if (!building) return false;
  if (outputs.some((folder) => path === folder || path.startsWith(folder + '/') || path.startsWith(folder + '\\'))) {
    return true;
  }
  const compiled = COMPILED.exec(path);
  return compiled !== null && TYPESCRIPT.some((ext) => existsSync(`${compiled[1]}${ext}`));
}

/** @param {string} path */
function display(path) {
  return (relative(process.cwd(), path) || '.').split('\\').join('/');
}

/**
 * Watches folder trees: fs.watch recursive where Node does it natively (macOS, Windows; Linux from
 * Node 20, but emulated there, so one watcher per folder instead), polling mtimes when fs.watch is
 * not available (some network and container file systems).
 * @param {string[]} roots
 * @param {(path: string) => void} onEvent
 */
function watchTrees(roots, onEvent) {
  const recursive = process.platform === 'darwin' || IS_WINDOWS;
  /** @type {Map<string, import('node:fs').FSWatcher>} */
  const watchers = new Map();
  let failed = false;
  /** @param {string} dir */
  const add = (dir) => {
    if (!watchers.has(dir)) {
      try {
        const watcher = watch(dir, { recursive }, (event, name) => {
          onEvent(name ? join(dir, name.toString()) : dir);
          if (!recursive && event === 'rename') rescan();
        });
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch {
        failed = true;
        return;
      }
    }
    if (recursive) return;
    /** @type {import('node:fs').Dirent[]} */
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && !SKIPPED_DIRS.has(entry.name)) add(join(dir, entry.name));
    }
  };
  const rescan = () => {
    for (const [dir, watcher] of watchers) {
      if (!existsSync(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const root of roots) add(root);
  };
  for (const root of roots) add(root);
  /** @type {NodeJS.Timeout | undefined} */
  let poller;
  if (failed || watchers.size === 0) {
    log('fs.watch is not available here: polling for changes every 500ms');
    /** @type {Map<string, number>} */
    let known = snapshot(roots);
    poller = setInterval(() => {
      const now = snapshot(roots);
      for (const [path, mtime] of now) if (known.get(path) !== mtime) onEvent(path);
      for (const path of known.keys()) if (!now.has(path)) onEvent(path);
      known = now;
    }, POLL_MS);
  }
  return {
    close() {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
      clearInterval(poller);
    },
  };
}

/** @param {string[]} roots */
function snapshot(roots) {
  /** @type {Map<string, number>} */
  const files = new Map();
  /** @param {string} dir */
  const walk = (dir) => {
    /** @type {import('node:fs').Dirent[]} */
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        try {
          files.set(path, statSync(path).mtimeMs);
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  for (const root of roots) walk(root);
  return files;
}

/**
 * PATH with every node_modules/.bin from the working folder up, as `npm run` has it, so
 * `tsx`, `ts-node` or `nodemon` installed in the project are found without npm in between.
 * @param {Record<string, string | undefined>} env
 * @param {string} cwd
 */
export function pathWithLocalBins(env, cwd) {
  const key = Object.keys(env).find((name) => name.toUpperCase() === 'PATH') ?? 'PATH';
  /** @type {string[]} */
  const bins = [];
  for (let dir = resolve(cwd); ; ) {
    const bin = join(dir, 'node_modules', '.bin');
    if (existsSync(bin)) bins.push(bin);
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  const sep = IS_WINDOWS ? ';' : ':';
  return { key, value: [...bins, env[key] ?? ''].filter(Boolean).join(sep) };
}

// -- the worker's consumers (Linux: /proc) -----------------------------------------------------
/**
 * `/proc/<pid>/stat` -> its parent, group and state (the name is in parentheses and may hold any
 * character: the fields are read after the last `)`).
 * @param {string} text
 */
export function parseStat(text) {
  const close = text.lastIndexOf(')');
  const name = text.slice(text.indexOf('(') + 1, close);
  const [state, ppid, pgrp] = text.slice(close + 2).split(' ');
  return { name, state: state ?? '', ppid: Number(ppid), pgrp: Number(pgrp) };
}

/**
 * The established TCP connections in `/proc/net/tcp` or `tcp6` text: socket inode -> remote port.
 * @param {string} text
 * @returns {Map<string, number>}
 */
export function parseTcp(text) {
  /** @type {Map<string, number>} */
  const found = new Map();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== '01') continue; // 01: ESTABLISHED
    const remote = /** @type {string} */ (fields[2]);
    found.set(/** @type {string} */ (fields[9]), parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16));
  }
  return found;
}

/**
 * The consumers among a process table (pure): the processes under `root` (and the members of its
 * process group whose parent is outside the table: orphans) holding a connection to one of `ports`
 * (any connection when `ports` is empty).
 * @param {number} root
 * @param {Map<number, { ppid: number, pgrp: number, ports: number[] }>} table
 * @param {number[]} ports
 */
export function consumersOf(root, table, ports) {
  return treeOf(root, table)
    .filter((pid) => {
      const held = table.get(pid)?.ports ?? [];
      return ports.length ? held.some((port) => ports.includes(port)) : held.length > 0;
    })
    .sort((a, b) => a - b);
}

/**
 * The processes under `root`, and the members of its process group whose parent is outside the table.
 * @param {number} root
 * @param {Map<number, { ppid: number, pgrp: number }>} table
 */
export function treeOf(root, table) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const [pid, row] of table) children.set(row.ppid, [...(children.get(row.ppid) ?? []), pid]);
  const orphans = [...table].filter(([pid, row]) => pid !== root && row.pgrp === root && !table.has(row.ppid));
  /** @type {number[]} */
  const tree = [];
  const queue = [root, ...orphans.map(([pid]) => pid)].filter((pid) => table.has(pid));
  while (queue.length) {
    const pid = /** @type {number} */ (queue.shift());
    if (tree.includes(pid)) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []).sort((a, b) => a - b));
  }
  return tree;
}

/**
 * DEVSTACK_REDIS_PORTS (`6379` or `6379,41234`) -> ports.
 * @param {string | undefined} text
 */
export function redisPorts(text) {
  return String(text ?? '')
    .split(',')
    .map((part) => Number(part.trim()))
    .filter((port) => Number.isInteger(port) && port > 0);
}

/**
 * Reads the live (not zombie) processes of this machine and, for those of `root`'s tree (all when
 * `root` is not given), their established TCP connections' remote ports (Linux). The descriptors of
 * another user's processes cannot be read: no ports.
 * @param {string} procRoot
 * @param {number} [root]
 */
export function readProcTable(procRoot = '/proc', root) {
  /** @type {Map<string, number>} */
  const sockets = new Map();
  for (const name of ['tcp', 'tcp6']) {
    try {
      for (const [inode, port] of parseTcp(readFileSync(join(procRoot, 'net', name), 'utf8'))) sockets.set(inode, port);
    } catch {
      // no IPv6, or no /proc/net
    }
  }
  /** @type {Map<number, { ppid: number, pgrp: number, ports: number[] }>} */
  const table = new Map();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parseStat(readFileSync(join(procRoot, entry, 'stat'), 'utf8'));
      if (stat.state !== 'Z') table.set(Number(entry), { ppid: stat.ppid, pgrp: stat.pgrp, ports: [] });
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of root === undefined ? table.keys() : treeOf(root, table)) {
    const ports = /** @type {{ ports: number[] }} */ (table.get(pid)).ports;
    try {
      for (const fd of readdirSync(join(procRoot, String(pid), 'fd'))) {
        try {
          const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(join(procRoot, String(pid), 'fd', fd)))?.[1];
          const port = inode === undefined ? undefined : sockets.get(inode);
          if (port !== undefined) ports.push(port);
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // gone, or another user's process: its descriptors cannot be read
    }
  }
  return table;
}

/** Can this platform find the consumers? */
const FINDS_CONSUMERS = process.platform === 'linux' && existsSync('/proc/self/fd');

/** @param {NodeJS.Signals | null} signal @param {number | null} code */
function exitCodeOf(code, signal) {
  return code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

function main() {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const args = parseArgs(process.argv.slice(2), process.env);
  if (args.errors.length) {
    for (const error of args.errors) log(`error: ${error}`);
    process.exit(2);
  }
  if (args.warning) log(args.warning);
  const roots = args.watchDirs.map((dir) => resolve(dir));
  const [program, ...programArgs] = /** @type {[string, ...string[]]} */ (args.command);

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  /** @type {NodeJS.Timeout | undefined} */
  let graceTimer;
  /** @type {NodeJS.Signals | undefined} */
  let endSignal;
  let restarting = false;
  /** @type {Set<string>} */
  const changed = new Set();
  /** @type {NodeJS.Timeout | undefined} */
  let debounce;

  const outputs = buildOutputs(args.build, args.command);
  const fromBuild = args.build.length > 0;
  const watcher = watchTrees(roots, (path) => {
    if (endSignal !== undefined || !isSourceChange(path, args.extensions)) return;
    if (isBuildOutput(path, outputs, fromBuild)) return;
    changed.add(path);
    clearTimeout(debounce);
    debounce = setTimeout(onChanges, DEBOUNCE_MS);
  });

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let building;
  let buildAgain = false;

  /**
   * Runs the --build command to completion, then `then(ok)`; a change meanwhile builds once more.
   * @param {(ok: boolean) => void} then
   */
  function runBuild(then) {
    const [tool, ...toolArgs] = /** @type {[string, ...string[]]} */ (args.build);
    const path = pathWithLocalBins(process.env, process.cwd());
    log(`building: \`${args.build.join(' ')}\``);
    const proc = spawn(tool, toolArgs, {
      stdio: 'inherit',
      env: { ...process.env, [path.key]: path.value },
      shell: IS_WINDOWS && !/\.(exe|com)$/i.test(tool),
    });
    building = proc;
    let done = false;
    /** @param {number} code */
    const finished = (code) => {
      if (done) return;
      done = true;
      building = undefined;
      if (endSignal !== undefined) {
        if (child === undefined) finish();
        return;
      }
      if (buildAgain) {
        buildAgain = false;
        runBuild(then);
        return;
      }
      if (code !== 0) log(`the build failed (code ${code}): ${child === undefined ? 'the worker starts' : 'the worker restarts'} after the next change`);
      then(code === 0);
    };
    proc.on('error', (error) => {
      log(`cannot run \`${tool}\`: ${error.message}`);
      finished(127);
    });
    proc.on('exit', (code, signal) => finished(exitCodeOf(code, signal)));
  }

  /** Starts the worker, after a successful build when --build is given. */
  function buildAndStart() {
    if (args.build.length === 0) return startWorker();
    runBuild((ok) => {
      if (ok) startWorker();
    });
  }

  function startWorker() {
    // POSIX: its own process group, so a group signal reaches it once, through this runner.
    // Windows: no new group (a detached child would get its own console window).
    const path = pathWithLocalBins(process.env, process.cwd());
    const proc = spawn(program, programArgs, {
      stdio: 'inherit',
      env: { ...process.env, [path.key]: path.value },
      detached: !IS_WINDOWS,
      shell: false,
      // Windows finds npm.cmd/tsx.cmd only through a shell; the command is the user's own config.
      ...(IS_WINDOWS && !/\.(exe|com)$/i.test(program) && program !== process.execPath ? { shell: true } : {}),
    });
    child = proc;
    proc.on('error', (error) => {
      log(`cannot run \`${program}\`: ${error.message}`);
      if (proc.pid === undefined) onExit(proc, 127, null);
    });
    proc.on('exit', (code, signal) => onExit(proc, code, signal));
  }

  const ports = redisPorts(process.env.DEVSTACK_REDIS_PORTS);
  /** Consumers signalled by the current stop (pid -> signal), each once. */
  /** @type {Map<number, NodeJS.Signals>} */
  const signalled = new Map();
  /** @type {{ proc: import('node:child_process').ChildProcess, signal: NodeJS.Signals } | undefined} */
  let stopping;
  /** @type {NodeJS.Timeout | undefined} */
  let consumerPoll;

  /**
   * Asks the worker to stop: its consumers first (one signal each), then what remains of its group;
   * arms the grace period's SIGKILL. `again`: a second request (SIGTERM to the worker and its consumers).
   * @param {NodeJS.Signals} signal
   * @param {boolean} [again]
   */
  function stopWorker(signal, again = false) {
    const proc = child;
    if (proc === undefined || proc.pid === undefined) return;
    graceTimer ??= setTimeout(() => {
      log(
        `the worker is still running ${formatDuration(args.graceMs)} after the stop request ` +
          '(WORKER_STOP_GRACE_PERIOD): killing it',
      );
      killTree(proc, 'SIGKILL');
    }, args.graceMs);
    if (IS_WINDOWS) return; // the console's Ctrl+C reached it; nothing graceful can be sent from here
    if (again || !FINDS_CONSUMERS) {
      // A second request (SIGTERM), or a platform without /proc: the worker's own process, as always,
      // and the consumers the first request found.
      for (const pid of [proc.pid, ...signalled.keys()]) kill(pid, signal);
      return;
    }
    const found = findConsumers(proc.pid);
    if (found.length === 0) {
      log(
        `no consumer of the worker found (no process of it holds a TCP connection${ports.length ? ` to port ${ports.join(', ')}` : ''}): ` +
          `sending ${signal} to the worker's process (pid ${proc.pid})`,
      );
      kill(proc.pid, signal);
      return;
    }
    stopping = { proc, signal };
    const many = found.length > 1;
    log(
      `stopping the worker's consumers first (${many ? 'pids' : 'pid'} ${found.join(', ')}: ${signal}, ` +
        `${many ? 'once each' : 'once'}), then what remains of its group`,
    );
    for (const pid of found) signalOnce(pid, signal);
    clearInterval(consumerPoll);
    consumerPoll = setInterval(watchConsumers, CONSUMER_POLL_MS);
  }

  /** @param {number} pid @param {NodeJS.Signals} signal */
  function kill(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }

  /** @param {number} pid @param {NodeJS.Signals} signal */
  function signalOnce(pid, signal) {
    if (signalled.has(pid)) return;
    signalled.set(pid, signal);
    kill(pid, signal);
  }

  /** @param {number} root */
  function findConsumers(root) {
    try {
      return consumersOf(root, readProcTable('/proc', root), ports);
    } catch {
      return [];
    }
  }

  /** While a stop waits: new consumers get the signal once; when all are gone, the rest of the group. */
  function watchConsumers() {
    const current = stopping;
    if (current === undefined || current.proc !== child || current.proc.pid === undefined) {
      clearInterval(consumerPoll);
      stopping = undefined;
      return;
    }
    const found = findConsumers(current.proc.pid);
    const fresh = found.filter((pid) => !signalled.has(pid));
    if (fresh.length) log(`a new consumer of the worker appeared (pid ${fresh.join(', ')}): ${current.signal} to it too`);
    for (const pid of fresh) signalOnce(pid, current.signal);
    const running = [...signalled.keys()].filter((pid) => {
      try {
        return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).state !== 'Z';
      } catch {
        return false;
      }
    });
    if (running.length === 0) {
      clearInterval(consumerPoll);
      stopping = undefined;
      try {
        process.kill(-current.proc.pid, current.signal); // what wraps them (tsx, a cluster primary)
      } catch {
        // the group is empty
      }
    }
  }

  /** @param {import('node:child_process').ChildProcess} proc @param {NodeJS.Signals} signal */
  function killTree(proc, signal) {
    if (proc.pid === undefined) return;
    try {
      if (IS_WINDOWS) proc.kill();
      else process.kill(-proc.pid, signal); // the worker and whatever it started
    } catch {
      // already gone
    }
  }

  /** @type {{ signal: NodeJS.Signals, at: number } | undefined} */
  let lastSignal;
  let requests = 0;

  /** @param {NodeJS.Signals} signal */
  function onSignal(signal) {
    const now = Date.now();
    const previous = lastSignal;
    lastSignal = { signal, at: now };
    if (previous && previous.signal === signal && now - previous.at < DUPLICATE_SIGNAL_MS) return;
    requests += 1;
    if (endSignal === undefined) {
      endSignal = signal;
      watcher.close();
      clearTimeout(debounce);
    }
    if (building !== undefined) kill(/** @type {number} */ (building.pid), 'SIGTERM');
    if (child === undefined) return building === undefined ? finish() : undefined;
    if (requests === 1) {
      log(`${signal} received: stopping the worker (it finishes its active job, up to ${formatDuration(args.graceMs)})`);
      stopWorker(signal === 'SIGHUP' ? 'SIGTERM' : signal);
    } else if (signal !== 'SIGHUP') {
      log(`${signal} again: sending SIGTERM to the worker`);
      stopWorker('SIGTERM', true);
    }
  }

  function onChanges() {
    const files = [...changed].map(display);
    changed.clear();
    if (endSignal !== undefined || files.length === 0) return;
    const what = files.length === 1 ? files[0] : `${files[0]} and ${files.length - 1} more`;
    if (building !== undefined) {
      buildAgain = true; // the build running may have read the file before it changed
      return;
    }
    if (child === undefined) {
      log(`${what} changed, starting the worker`);
      buildAndStart();
      return;
    }
    if (IS_WINDOWS) {
      log(`${what} changed; on Windows the worker cannot be stopped gracefully from here: Ctrl+C and start again`);
      return;
    }
    if (restarting) return; // the new worker will load this change too
    if (args.build.length === 0) return restart(what);
    runBuild((ok) => {
      if (ok && child !== undefined && !restarting) restart(what);
      else if (ok && child === undefined) startWorker();
    });
  }

  /** @param {string} what */
  function restart(what) {
    restarting = true;
    log(`${what} changed: restarting the worker once it has stopped (it finishes its active job first)`);
    stopWorker('SIGTERM');
  }

  /**
   * @param {import('node:child_process').ChildProcess} proc
   * @param {number | null} code
   * @param {NodeJS.Signals | null} signal
   */
  function onExit(proc, code, signal) {
    if (proc !== child) return;
    child = undefined;
    clearTimeout(graceTimer);
    graceTimer = undefined;
    clearInterval(consumerPoll);
    stopping = undefined;
    signalled.clear();
    // Whatever the worker started in its group goes with it (a tsx or npm wrapper's leftovers).
    if (!IS_WINDOWS && proc.pid !== undefined) {
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        // the group is empty
      }
    }
    if (endSignal !== undefined) return finish();
    if (restarting) {
      restarting = false;
      log('the worker stopped; starting it again');
      startWorker();
      return;
    }
    log(`the worker exited (${code !== null ? `code ${code}` : signal}); ending the dev session`);
    watcher.close();
    clearTimeout(debounce);
    process.exit(exitCodeOf(code, signal));
  }

  function finish() {
    watcher.close();
    const number = endSignal === undefined ? undefined : constants.signals[endSignal];
    if (endSignal !== undefined && number !== undefined && !IS_WINDOWS) {
      // Die by the signal (the parent sees 128 + n, as a shell shows it) rather than exit(): Node 20
      // aborts in exit() (134) restoring a terminal that was hung up (nodejs/node#51519), and a closed
      // terminal is one of the ways a session ends.
      process.removeAllListeners(endSignal);
      process.kill(process.pid, endSignal);
      setTimeout(() => process.exit(128 + number), 1000).unref();
      return;
    }
    process.exit(number === undefined ? 0 : 128 + number);
  }

  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal));
  if (IS_WINDOWS) {
    log("on Windows the console's Ctrl+C reaches every process of the worker at once: its consumers cannot be stopped first");
  } else if (!FINDS_CONSUMERS) {
    log(`the worker's consumers cannot be found on ${process.platform} (no /proc): a stop goes to the worker's process`);
  }
  log(
    `running \`${args.command.join(' ')}\`, restarting it after a graceful stop on changes in ` +
      `${roots.map((root) => `${display(root)}/`).join(', ')} (stop grace ${formatDuration(args.graceMs)})` +
      (args.build.length ? `, after \`${args.build.join(' ')}\` succeeds` : '') +
      (outputs.length ? ` (its output ${outputs.map((o) => `${display(o)}/`).join(', ')} not watched)` : ''),
  );
  buildAndStart();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
