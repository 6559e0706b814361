/**
 * Ready file: with WORKER_READY_FILE=<path>, the worker creates that file once it is ready
 * (connected and taking jobs; behind a start gate: connected, prepared and waiting for the gate)
 * and removes it as soon as it stops taking jobs (a shutdown begins) or the process exits.
 * A container healthcheck (`test -f`) or a parent process polls for it.
 */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const READY_FILE_ENV = 'WORKER_READY_FILE';

export function readyFilePath(env: Record<string, string | undefined>, cwd: string = process.cwd()): string | undefined {
  const raw = env[READY_FILE_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  return resolve(cwd, raw.trim());
}

export interface ReadyFileFs {
  writeFileSync(path: string, data: string): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

const realFs: ReadyFileFs = { writeFileSync, renameSync, unlinkSync };

export class ReadyFile {
  private written = false;

  constructor(
    readonly path: string | undefined,
    private readonly fs: ReadyFileFs = realFs,
  ) {}

  /** Creates the file (content: the pid) atomically, so a reader never sees a partial file. */
  write(pid: number = process.pid): void {
    if (this.path === undefined) return;
    const temporary = join(dirname(this.path), `.${pid}.ready.tmp`);
    this.fs.writeFileSync(temporary, `${pid}\n`);
    this.fs.renameSync(temporary, this.path);
    this.written = true;
  }

  /** Removes the file if this process wrote it; never throws (also used on 'exit'). */
  remove(): void {
    if (this.path === undefined || !this.written) return;
    this.written = false;
    try {
      this.fs.unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
