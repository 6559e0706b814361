#!/usr/bin/env node
// @ts-check
/**
 * Dev runner: runs the worker (`node --import tsx src/main.ts`) as ONE child process, restarts it
 * when a file under the entry's folder changes, and stops it gracefully.
 *
 *   node scripts/dev.mjs [node options as --opt or --opt=value] [entry, default src/main.ts] [-- args]
 *
 * Why not `tsx watch` behind `npm run dev`: on SIGTERM and SIGHUP the `sh -c` that npm puts between
 * itself and the command has no handler and dies at once (npm forwards only SIGINT/SIGTERM, and
 * nothing handles SIGHUP), so `tsx watch` and the worker are orphaned; their zombies then stay in
 * the process group until PID 1 reaps them. `tsx watch` also relays the signal to a worker that
 * already got it from the group (two log lines), and SIGKILLs it 5 s later (a longer job is cut).
 *
 * Here every process is the direct child of one that waits for it, and:
 * - a stop signal (SIGINT, SIGTERM, SIGHUP; SIGBREAK on Windows) is passed to the worker as ONE
 *   message on an IPC channel (src/stopRequests.ts pairs it with the worker's own copy of a group
 *   signal, so the worker closes once and logs once). The worker stays in this process group, so a
 *   group signal or a wait for the group still covers it if this runner is killed; it then sees
 *   the channel close and closes by itself.
 * - the worker gets WORKER_STOP_GRACE_PERIOD (Compose syntax, default 30s, as the background
 *   container) to finish its active job, then SIGKILL; the same on a restart after a change.
 * - this runner exits with 128 + the signal's number once the worker is gone (on SIGHUP it dies by
 *   the signal instead, which its parent sees as 129 too: see finish()).
 * On Windows there is no SIGTERM/SIGHUP to send (child.kill() terminates at once), so the IPC
 * message is the only graceful stop there; Ctrl+C reaches both processes from the console.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, watch } from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration, stopGraceFromEnv } from './duration.mjs';

// Protocol shared with src/stopRequests.ts.
const RUNNER_ENV = 'DEV_RUNNER_IPC';
const STOP_MESSAGE = 'dev-runner:stop';
const LISTENING_MESSAGE = 'dev-runner:listening';

/** Signals that end the session, where the platform has them. */
const STOP_SIGNALS = /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']).filter(
  (signal) => constants.signals[signal] !== undefined,
);
/** A worker that has not installed its stop handling this long after a stop request gets SIGTERM. */
const HANDSHAKE_FALLBACK_MS = 2000;
const DEBOUNCE_MS = 100;
/** The same signal again within this time is the same signal by a second route (e.g. npm's relay). */
const DUPLICATE_SIGNAL_MS = 100;
const WATCHED_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json']);

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {string} message */
function log(message) {
  console.log(`[dev] ${message}`);
}

/**
 * Splits the command line: options before the entry go to node, the first other word is the
 * entry, the rest (or everything after `--`) goes to the entry.
 * @param {string[]} argv
 */
export function parseArgs(argv) {
  /** @type {string[]} */
  const nodeArgs = [];
  /** @type {string[]} */
  const scriptArgs = [];
  /** @type {string | undefined} */
  let entry;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = /** @type {string} */ (argv[i]);
    if (arg === '--') {
      scriptArgs.push(...argv.slice(i + 1));
      break;
    }
    if (entry === undefined && arg.startsWith('-')) nodeArgs.push(arg);
    else if (entry === undefined) entry = arg;
    else scriptArgs.push(arg);
  }
  return { nodeArgs, entry, scriptArgs };
}

/** @param {string} path */
function display(path) {
  return (relative(process.cwd(), path) || '.').split('\\').join('/');
}

/**
 * Watches a folder tree: natively recursive on macOS and Windows; on Linux one watcher per
 * folder (Node 20's recursive mode there is emulated and has had bugs), rescanned when entries
 * are added or removed.
 * @param {string} root
 * @param {(path: string) => void} onEvent
 */
function watchTree(root, onEvent) {
  const recursive = process.platform === 'darwin' || process.platform === 'win32';
  /** @type {Map<string, import('node:fs').FSWatcher>} */
  const watchers = new Map();
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
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') {
        add(join(dir, entry.name));
      }
    }
  };
  const rescan = () => {
    for (const [dir, watcher] of watchers) {
      if (!existsSync(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    add(root);
  };
  add(root);
  return {
    close() {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** @param {string} path */
function isSourceChange(path) {
  const name = basename(path);
  if (name.startsWith('.')) return false;
  return WATCHED_EXTENSIONS.has(extname(name));
}

function main() {
  // A closed terminal or reader must not crash the runner while the worker finishes its job.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  const args = parseArgs(process.argv.slice(2));
  const entryPath = args.entry === undefined ? join(appDir, 'src', 'main.ts') : resolve(args.entry);
  const watchRoot = dirname(entryPath);
  const grace = stopGraceFromEnv(process.env);
  if (grace.warning) log(grace.warning);
  const tsxLoader = import.meta.resolve('tsx');
  const childArgs = [...args.nodeArgs, '--import', tsxLoader, entryPath, ...args.scriptArgs];

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  /** The worker has installed its stop handling: stops go over IPC. */
  let listening = false;
  /** @type {object | undefined} A stop waiting for the worker's handshake. */
  let queuedStop;
  /** @type {NodeJS.Timeout | undefined} */
  let graceTimer;
  /** @type {NodeJS.Timeout | undefined} */
  let fallbackTimer;
  /** @type {NodeJS.Signals | undefined} Set once the session is ending. */
  let endSignal;
  let restarting = false;
  /** @type {Set<string>} */
  const changed = new Set();
  /** @type {NodeJS.Timeout | undefined} */
  let debounce;

  const watcher = watchTree(watchRoot, (path) => {
    if (endSignal !== undefined || !isSourceChange(path)) return;
    changed.add(path);
    clearTimeout(debounce);
    debounce = setTimeout(onChanges, DEBOUNCE_MS);
  });

  function startWorker() {
    listening = false;
    queuedStop = undefined;
    const proc = spawn(process.execPath, childArgs, {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        [RUNNER_ENV]: '1',
        // Without worker threads, esbuild's transformSync (what tsx uses for this CommonJS app)
        // runs esbuild once per file and waits for it. With them, tsx leaves a long-lived
        // `esbuild --service` child under the worker once it compiled anything; a group signal
        // kills it too, and if the worker exits before reaping it, its zombie stays in the group
        // until PID 1 reaps it (1.3-1.8 s on this machine), the linger this runner removes.
        ESBUILD_WORKER_THREADS: process.env.ESBUILD_WORKER_THREADS ?? '0',
      },
    });
    child = proc;
    proc.on('message', (message) => {
      if (proc !== child || typeof message !== 'object' || message === null) return;
      if (/** @type {{ type?: unknown }} */ (message).type !== LISTENING_MESSAGE) return;
      listening = true;
      clearTimeout(fallbackTimer);
      if (queuedStop !== undefined) {
        const stop = queuedStop;
        queuedStop = undefined;
        send(stop);
      }
    });
    proc.on('error', (error) => {
      log(`cannot run the worker: ${error.message}`);
      if (proc.pid === undefined) onExit(proc, 1, null); // never started: no 'exit' follows
    });
    proc.on('exit', (code, signal) => onExit(proc, code, signal));
  }

  /** @param {object} message */
  function send(message) {
    const proc = child;
    if (proc === undefined) return;
    const fallback = () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    };
    if (!proc.connected) return fallback();
    proc.send(message, (error) => {
      if (error) fallback();
    });
  }

  /**
   * Asks the worker to close (one message per request) and arms the grace period's SIGKILL.
   * @param {object} message
   */
  function requestStop(message) {
    const proc = child;
    if (proc === undefined) return;
    if (graceTimer === undefined) {
      graceTimer = setTimeout(() => {
        log(
          `the worker is still running ${formatDuration(grace.ms)} after the stop request ` +
            `(WORKER_STOP_GRACE_PERIOD): killing it`,
        );
        proc.kill('SIGKILL');
      }, grace.ms);
    }
    if (listening) {
      send(message);
    } else {
      // Still loading: the message is sent when it is ready for it (if a group signal has not
      // ended it already); a worker that never says so gets a plain SIGTERM.
      queuedStop = message;
      fallbackTimer ??= setTimeout(() => {
        if (!listening && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      }, HANDSHAKE_FALLBACK_MS);
    }
  }

  /** @type {{ signal: NodeJS.Signals, at: number } | undefined} */
  let lastSignal;

  /** @param {NodeJS.Signals} signal */
  function onSignal(signal) {
    const now = Date.now();
    const previous = lastSignal;
    lastSignal = { signal, at: now };
    if (previous && previous.signal === signal && now - previous.at < DUPLICATE_SIGNAL_MS) return;
    if (endSignal === undefined) {
      endSignal = signal;
      watcher.close();
      clearTimeout(debounce);
    }
    if (child === undefined) return finish();
    // A repeated signal is passed on too: the worker says it is still closing (one line each).
    requestStop({ type: STOP_MESSAGE, signal });
  }

  function onChanges() {
    const files = [...changed].map(display);
    changed.clear();
    if (endSignal !== undefined || files.length === 0) return;
    const what = files.length === 1 ? files[0] : `${files[0]} and ${files.length - 1} more`;
    if (child === undefined) {
      log(`${what} changed, starting the worker`);
      startWorker();
      return;
    }
    if (restarting) return; // the new worker will load this change too
    restarting = true;
    log(`${what} changed, restarting the worker`);
    requestStop({ type: STOP_MESSAGE, restart: `${what} changed` });
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
    clearTimeout(fallbackTimer);
    graceTimer = undefined;
    fallbackTimer = undefined;
    if (endSignal !== undefined) return finish();
    if (restarting) {
      restarting = false;
      startWorker();
      return;
    }
    // The worker ended by itself (a crash, or its own exit). Waiting here for a change in src/ would
    // keep the dev session, and so the queue, to a worker that no longer runs: end instead, with
    // its code, so that `inv dev.worker` gives the queue back to the background worker at once.
    const exitCode = code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
    log(`the worker exited (${code !== null ? `code ${code}` : signal}); ending the dev session`);
    watcher.close();
    clearTimeout(debounce);
    process.exit(exitCode);
  }

  function finish() {
    watcher.close();
    if (endSignal === 'SIGHUP' && process.platform !== 'win32') {
      // The terminal is probably gone. Node 20 aborts in process.exit() when it cannot restore a
      // hung-up tty's mode (ResetStdio asserts on tcsetattr's EIO, nodejs/node#51519, fixed by
      // #58200 in later lines): exit 134 instead of 129. Dying by the signal skips that reset;
      // the parent sees "killed by SIGHUP", which shells and the inv task report as 129.
      process.removeAllListeners('SIGHUP');
      process.kill(process.pid, 'SIGHUP');
      setTimeout(() => process.exit(129), 1000).unref();
      return;
    }
    const number = endSignal === undefined ? undefined : constants.signals[endSignal];
    process.exit(number === undefined ? 0 : 128 + number);
  }

  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal));
  log(
    `running ${display(entryPath)}, restarting it on changes in ${display(watchRoot)}/ ` +
      `(stop grace ${formatDuration(grace.ms)})`,
  );
  startWorker();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
