/**
 * Start gate: with WORKER_START_GATE=<file>, the worker connects and prepares everything, then
 * waits for that file to exist before it takes jobs. The file is polled (fs.watch is unreliable
 * across platforms and file systems, and misses a file created before the watch began).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const START_GATE_ENV = 'WORKER_START_GATE';
export const GATE_POLL_MS = 20;

/** The gate file's absolute path (relative paths are taken from the working directory), or undefined. */
export function startGatePath(env: Record<string, string | undefined>, cwd: string = process.cwd()): string | undefined {
  const raw = env[START_GATE_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  return resolve(cwd, raw.trim());
}

export interface GateOptions {
  /** Polled before every check: true stops the wait (a shutdown started). */
  stopped?: () => boolean;
  intervalMs?: number;
  exists?: (path: string) => boolean;
  sleep?: (ms: number) => Promise<unknown>;
}

/** Resolves true once the file exists, false if `stopped()` became true first. */
export async function waitForGate(path: string, opts: GateOptions = {}): Promise<boolean> {
  const stopped = opts.stopped ?? (() => false);
  const exists = opts.exists ?? existsSync;
  const wait = opts.sleep ?? ((ms: number) => sleep(ms));
  const interval = opts.intervalMs ?? GATE_POLL_MS;
  for (;;) {
    if (stopped()) return false;
    if (exists(path)) return true;
    await wait(interval);
  }
}
