/**
 * Entry of one worker process under the cluster primary (cluster.ts): reports its V8 heap limit and
 * memory to the primary every second over IPC, then runs the normal worker (main.ts) unchanged.
 */
import { getHeapStatistics } from 'node:v8';
import type { WorkerSample } from './clusterPolicy';
import { retainedMb } from './loadJob';

const SAMPLE_MS = 1000;

function report(): void {
  if (!process.send || !process.connected) return;
  const memory = process.memoryUsage();
  const sample: WorkerSample = {
    type: 'devstack-sample',
    pid: process.pid,
    heapSizeLimitBytes: getHeapStatistics().heap_size_limit,
    heapUsedBytes: memory.heapUsed,
    rssBytes: memory.rss,
    retainedMb: retainedMb(),
  };
  process.send(sample);
}

report();
setInterval(report, SAMPLE_MS).unref();
require('./main');
