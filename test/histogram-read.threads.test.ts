import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { readyCount, startFlag, startWorkers } from './helpers/workers.js';

// One read of a histogram against four threads observing into it. Every observation is 1,
// so the sum a read shows is the number of observations it includes, and can be compared
// with its count. The bound (docs/metrics.md, src/kinds/histogram.ts): the sum never
// includes an observation the count lacks, and the count holds at most the observations
// in flight during the read beyond those of the sum. Here: every observation finished
// before the read began is in the sum, nothing started after it ended is in the count,
// and sum <= count.
const WRITERS = 4;
// Reads that overlapped writing (some writer progressed during them) needed before stopping.
const OVERLAPPING_READS = 2000;
const MAX_READS = 200_000;

describe.each(BACKENDS)('histogram reads under %s writers', (backend) => {
  it.each([false, true])('sum and count of one read stay within the documented bound (striped: %s)', async (striped) => {
    const registry = StatsRegistry.create({ backend, stripes: 4 });
    const h = registry.histogram({ name: 't_read_seconds', help: 'Reads.', buckets: [0.5, 1, 2], striped });
    const progress = new Int32Array(new SharedArrayBuffer(8 * WRITERS));
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const start = startFlag();
    const run = startWorkers<{ observed: number }>(
      'hist-read-worker.mjs',
      Array.from({ length: WRITERS }, (_, index) => ({ handle: registry.handle, backend, striped, index, progress: progress.buffer, stop: stop.buffer, start: start.sab })),
    );
    await readyCount(run.workers);
    start.release();
    const finished = () => Array.from({ length: WRITERS }, (_, w) => Atomics.load(progress, 2 * w + 1)).reduce((a, b) => a + b, 0);
    const started = () => Array.from({ length: WRITERS }, (_, w) => Atomics.load(progress, 2 * w)).reduce((a, b) => a + b, 0);

    const violations: string[] = [];
    let overlapping = 0;
    let reads = 0;
    for (; reads < MAX_READS && overlapping < OVERLAPPING_READS; reads++) {
      const before = finished();
      const got = h.get(); // reads synchronously, resolves after
      const after = started();
      const values = (await got).values;
      const sum = values.find((v) => v.metricName === 't_read_seconds_sum')!.value;
      const count = values.find((v) => v.metricName === 't_read_seconds_count')!.value;
      if (after > before) overlapping++;
      if (!(before <= sum && sum <= count && count <= after)) violations.push(`finished ${before} <= sum ${sum} <= count ${count} <= started ${after}`);
      if (violations.length > 5) break;
    }
    Atomics.store(stop, 0, 1);
    const observed = (await run.results).reduce((s, r) => s + r.observed, 0);

    expect(violations).toEqual([]);
    expect(overlapping).toBeGreaterThanOrEqual(OVERLAPPING_READS);
    // Quiet again: the read is exact.
    const last = (await h.get()).values;
    expect(last.find((v) => v.metricName === 't_read_seconds_sum')!.value).toBe(observed);
    expect(last.find((v) => v.metricName === 't_read_seconds_count')!.value).toBe(observed);
  });
});
