// Zeroings that overlap (src/kinds/zeroing.ts): threads that each add and reset() the same
// unlabelled metric in a loop, on mixed backends. A zeroing once added the negation of the
// total it read, and two that overlapped subtracted it twice: a counter then read 2^64 - n
// (a float counter, a sum: -n) until the next zeroing. Every read made meanwhile must lie
// between zero and every add ever made; and after one last reset, the adds every thread
// makes next must add up exactly.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type BackendKind, StatsRegistry } from '../src/index.js';

const ITERATIONS = 20_000;
const AFTER = 5_000;
const BACKENDS: BackendKind[] = ['wasm', 'js', 'auto', 'js'];
const KINDS = ['counter', 'striped', 'float', 'histogram', 'summary'] as const;

describe('zeroings that overlap in threads', () => {
  it.each(KINDS)('%s: never read below zero or above the adds, and exact after a last reset', async (kind) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 8 });
    const barrier = new SharedArrayBuffer(16);
    const workers = BACKENDS.map(
      (backend, index) =>
        new Worker(new URL('./workers/zero-overlap-worker.mjs', import.meta.url), {
          workerData: { handle: registry.handle, backend, kind, index, workers: BACKENDS.length, barrier, iterations: ITERATIONS, readEvery: 25, after: AFTER },
        }),
    );
    let reports: { bad: unknown[]; reads: number }[];
    try {
      reports = await Promise.all(workers.map((w) => new Promise<{ bad: unknown[]; reads: number }>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    for (const r of reports) {
      expect(r.bad).toEqual([]);
      expect(r.reads).toBe(ITERATIONS / 25);
    }
    const sample = registry.collect().find((f) => f.name.startsWith('zeroed'))!.samples[0]!.value;
    const total = BACKENDS.length * AFTER;
    if (typeof sample === 'object') {
      expect(sample).toMatchObject({ count: BigInt(total), sum: total });
    } else {
      expect(Number(sample)).toBe(total);
    }
  });
});
