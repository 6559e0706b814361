// How much of the V8 heap a retained load job keeps after full collections (was a GC-timing-dependent
// assertion in apps/worker/test/load.test.ts). Run: node --expose-gc --import tsx bench/load_heap.mjs
import { getHeapStatistics } from 'node:v8';
import { retainedMb, runLoadJob } from '../apps/worker/src/loadJob.ts';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
await runLoadJob({ mb: 4 });
globalThis.gc();
const before = getHeapStatistics().used_heap_size;
await runLoadJob({ mb: 8, retain: true });
globalThis.gc();
const grown = (getHeapStatistics().used_heap_size - before) / 1024 / 1024;
console.log(`retained ${retainedMb()} MiB by count; heap grew ${grown.toFixed(1)} MiB after a full collection`);
