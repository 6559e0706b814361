/**
 * Stop requests reaching the worker, with one decision per request: one signal, one close, one
 * log line, even when the same signal arrives by two routes.
 *
 * The requests are the OS stop signals (SIGINT/SIGTERM/SIGHUP, SIGBREAK on Windows). A repeat of
 * the same signal within DUPLICATE_WINDOW_MS counts as the same signal: `tsx watch` or pnpm
 * relaying a signal the worker already got from its process group. (The dev runner, the one
 * shipped with the tasks, and `inv dev.worker` signal the worker itself, once.)
 */

export type StopRequest = { kind: 'signal'; signal: string };

export const DUPLICATE_WINDOW_MS = 100;

export interface Clock {
  now(): number;
}

const realClock: Clock = { now: () => Date.now() };

/** The decision logic, free of process state so it can be unit-tested with a fake clock. */
export class StopRequests {
  private lastSignal: { signal: string; at: number } | undefined;

  constructor(
    private readonly act: (request: StopRequest) => void,
    private readonly clock: Clock = realClock,
  ) {}

  /** The worker's own signal handler. */
  signal(signal: string): void {
    const now = this.clock.now();
    const last = this.lastSignal;
    this.lastSignal = { signal, at: now };
    if (last && last.signal === signal && now - last.at < DUPLICATE_WINDOW_MS) return;
    this.act({ kind: 'signal', signal });
  }
}

/** The stop signals of this platform: SIGTERM, SIGINT, SIGHUP, and SIGBREAK (Ctrl+Break) on Windows. */
export function stopSignals(platform: NodeJS.Platform = process.platform): NodeJS.Signals[] {
  return platform === 'win32' ? ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] : ['SIGTERM', 'SIGINT', 'SIGHUP'];
}

/** The parts of `process` used here (a fake in tests). */
export interface StopProcess {
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** Installs the signal handlers; each request is passed once to `onStop`. */
export function installStopHandlers(
  onStop: (request: StopRequest) => void,
  proc: StopProcess = process,
  clock: Clock = realClock,
): { requests: StopRequests } {
  const requests = new StopRequests(onStop, clock);
  for (const signal of stopSignals()) proc.on(signal, () => requests.signal(signal));
  return { requests };
}
