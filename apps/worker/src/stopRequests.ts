/**
 * Stop requests reaching the worker, with one decision per request: one signal, one close, one
 * log line, even when the same signal arrives by two routes.
 *
 * Routes: the OS signal itself (SIGINT/SIGTERM/SIGHUP, SIGBREAK on Windows), and, under the dev
 * runner (scripts/dev.mjs), a message on the runner's IPC channel. A signal sent to the whole
 * process group (Ctrl+C, `kill -TERM -<pgid>`, the inv task) reaches both the runner and the worker;
 * the runner then also tells the worker. Under the runner the message is authoritative and the
 * worker's own copy of the signal is paired with it and dropped; a signal that no message follows
 * within PAIR_WINDOW_MS (sent to the worker's pid alone) is acted on by itself.
 * Without the runner, a repeat of the same signal within DUPLICATE_WINDOW_MS counts as the same
 * signal (e.g. `tsx watch` relaying the group signal the worker already got).
 */

export type StopRequest =
  | { kind: 'signal'; signal: string }
  | { kind: 'restart'; detail: string }
  | { kind: 'runner-gone' };

/** Set by scripts/dev.mjs in the worker's environment; the worker then listens on the IPC channel. */
export const RUNNER_ENV = 'DEV_RUNNER_IPC';
/** Runner -> worker: `{ type: STOP_MESSAGE, signal }` or `{ type: STOP_MESSAGE, restart: detail }`. */
export const STOP_MESSAGE = 'dev-runner:stop';
/** Worker -> runner, once its stop handling is installed: stops may now be sent as messages. */
export const LISTENING_MESSAGE = 'dev-runner:listening';

export const PAIR_WINDOW_MS = 1000;
export const DUPLICATE_WINDOW_MS = 100;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The decision logic, free of process state so it can be unit-tested with a fake clock. */
export class StopRequests {
  /** Own signals waiting for the runner's message (under the runner only). */
  private readonly pending: { signal: string; handle: unknown }[] = [];
  /** Runner signal messages not yet matched by the worker's own copy of the signal. */
  private readonly unmatched: { signal: string; at: number }[] = [];
  private lastSignal: { signal: string; at: number } | undefined;

  constructor(
    private readonly act: (request: StopRequest) => void,
    private readonly underRunner: boolean,
    private readonly clock: Clock = realClock,
  ) {}

  /** The worker's own signal handler. */
  signal(signal: string): void {
    const now = this.clock.now();
    if (!this.underRunner) {
      const last = this.lastSignal;
      this.lastSignal = { signal, at: now };
      if (last && last.signal === signal && now - last.at < DUPLICATE_WINDOW_MS) return;
      this.act({ kind: 'signal', signal });
      return;
    }
    this.dropOldUnmatched(now);
    const index = this.unmatched.findIndex((entry) => entry.signal === signal);
    if (index >= 0) {
      this.unmatched.splice(index, 1); // the runner already told us about this one
      return;
    }
    const entry = {
      signal,
      handle: this.clock.setTimeout(() => {
        const at = this.pending.indexOf(entry);
        if (at >= 0) this.pending.splice(at, 1);
        this.act({ kind: 'signal', signal }); // nobody told the runner: act alone
      }, PAIR_WINDOW_MS),
    };
    this.pending.push(entry);
  }

  /** A stop message from the dev runner. */
  runner(request: StopRequest): void {
    if (request.kind === 'signal') {
      const index = this.pending.findIndex((entry) => entry.signal === request.signal);
      if (index >= 0) {
        this.clock.clearTimeout(this.pending[index]!.handle);
        this.pending.splice(index, 1);
      } else {
        const now = this.clock.now();
        this.dropOldUnmatched(now);
        this.unmatched.push({ signal: request.signal, at: now });
      }
    }
    this.act(request);
  }

  /** Cancels pending timers (for tests and a clean exit). */
  dispose(): void {
    for (const entry of this.pending) this.clock.clearTimeout(entry.handle);
    this.pending.length = 0;
  }

  private dropOldUnmatched(now: number): void {
    while (this.unmatched.length > 0 && now - this.unmatched[0]!.at > PAIR_WINDOW_MS) this.unmatched.shift();
  }
}

/** Parses a runner message; undefined for anything else. */
export function parseRunnerMessage(message: unknown): StopRequest | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { type, signal, restart } = message as { type?: unknown; signal?: unknown; restart?: unknown };
  if (type !== STOP_MESSAGE) return undefined;
  if (typeof signal === 'string' && signal !== '') return { kind: 'signal', signal };
  return { kind: 'restart', detail: typeof restart === 'string' && restart !== '' ? restart : 'restart' };
}

/** The stop signals of this platform: SIGTERM, SIGINT, SIGHUP, and SIGBREAK (Ctrl+Break) on Windows. */
export function stopSignals(platform: NodeJS.Platform = process.platform): NodeJS.Signals[] {
  return platform === 'win32' ? ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] : ['SIGTERM', 'SIGINT', 'SIGHUP'];
}

/** The parts of `process` used here (a fake in tests). */
export interface StopProcess {
  env: Record<string, string | undefined>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  send?: ((message: unknown, callback: (error: Error | null) => void) => boolean) | undefined;
  channel?: { unref(): void } | undefined;
}

/**
 * Installs the signal handlers and, when started by the dev runner, the IPC handlers; each
 * request is passed once to `onStop`. Returns whether the runner's channel is in use.
 */
export function installStopHandlers(
  onStop: (request: StopRequest) => void,
  proc: StopProcess = process,
  clock: Clock = realClock,
): { underRunner: boolean; requests: StopRequests } {
  const underRunner = proc.env[RUNNER_ENV] === '1' && typeof proc.send === 'function';
  const requests = new StopRequests(onStop, underRunner, clock);
  for (const signal of stopSignals()) proc.on(signal, () => requests.signal(signal));
  if (underRunner) {
    proc.on('message', (message: unknown) => {
      const request = parseRunnerMessage(message);
      if (request) requests.runner(request);
    });
    // The runner was killed (or crashed): close as for a signal, nobody else will ask.
    proc.on('disconnect', () => onStop({ kind: 'runner-gone' }));
    // The channel alone must never keep the worker alive.
    proc.channel?.unref();
    // With a callback a closed channel is reported here instead of as an uncaught 'error'; the
    // runner being gone already is handled by 'disconnect'.
    proc.send!({ type: LISTENING_MESSAGE }, () => {});
  }
  return { underRunner, requests };
}
