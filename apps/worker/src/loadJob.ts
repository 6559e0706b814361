/**
 * The `load` job kind used by `inv prodlike.load`: allocate MB on the V8 heap, hold it, and either
 * release it or keep it for the life of the process (a leak, on purpose).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface LoadJobData {
  /** MiB to allocate on the JavaScript heap. */
  mb?: number;
  /** How long to hold the allocation, in milliseconds. */
  holdMs?: number;
  /** Keep the allocation after the job (mimics a leak). */
  retain?: boolean;
}

/** One MiB of doubles: 131072 x 8 bytes (a packed double array lives on the V8 heap). */
const DOUBLES_PER_MIB = 131_072;

const retained: number[][] = [];

export function retainedMb(): number {
  return retained.length;
}

export function loadSize(data: LoadJobData | null | undefined): { mb: number; holdMs: number; retain: boolean } {
  const mb = Number(data?.mb ?? 0);
  const holdMs = Number(data?.holdMs ?? 0);
  return {
    mb: Number.isFinite(mb) && mb > 0 ? Math.floor(mb) : 0,
    holdMs: Number.isFinite(holdMs) && holdMs > 0 ? holdMs : 0,
    retain: data?.retain === true,
  };
}

/** Allocates, touches, holds and (unless retained) drops `mb` MiB of heap. */
export async function runLoadJob(data: LoadJobData | null | undefined): Promise<number> {
  const { mb, holdMs, retain } = loadSize(data);
  const chunks: number[][] = [];
  for (let i = 0; i < mb; i += 1) {
    const chunk = new Array<number>(DOUBLES_PER_MIB);
    for (let j = 0; j < DOUBLES_PER_MIB; j += 1) chunk[j] = j + 0.5;
    chunks.push(chunk);
  }
  if (holdMs > 0) await sleep(holdMs);
  if (retain) retained.push(...chunks);
  return chunks.length;
}
