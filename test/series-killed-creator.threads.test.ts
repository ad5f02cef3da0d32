// maxSeries stays exact when creators are terminated in the middle of creating a series.
// A create takes a claim on the family's count word, inserts the series, then ends the
// claim: a worker terminated anywhere in between must neither keep a unit (the family
// would hold fewer series than maxSeries for good) nor leave a claim in flight (every
// create at the limit would wait for it). Workers creating series in a loop are terminated
// at random points, early (interpreted code: every call is a point where V8 can act on
// the termination), and the count must match the series exactly once they have exited.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CardinalityLimitError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejectedKeeping, registryState } from './helpers/metrics.js';

const ROUNDS = 12;
const PER_ROUND = 4;
const NAME = 't_killed_creators_total';
// Claims field of the count word (the first word of a labelled family's data); the bits
// above it are the claims in flight.
const COUNT_MASK = (1 << 20) - 1;

describe.each(BACKENDS)('labelled series of creators terminated mid-create (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} creators terminated at random points leave the count exact`, async () => {
    const registry = StatsRegistry.create({ capacityBytes: 32 * 1024 * 1024, backend });
    const c = registry.counter({ name: NAME, help: 'Killed creators.', labelNames: ['v'], maxSeries: 1_000_000 });
    const word = registry.checkedRecords().find((r) => r.name === NAME)!.dataOffset >>> 2;
    const i32 = registry.views.i32;
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let created = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/series-kill.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, progress: progress.buffer, index, name: `${NAME}`, maxSeries: 1_000_000 },
          }),
      );
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      for (let i = 0; i < PER_ROUND; i++) {
        const target = 1 + Math.floor(Math.random() * 300);
        while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
        void workers[i]!.terminate();
      }
      await Promise.all(exited);
      // Let this thread's exit hooks run (they run on the 'exit' events, in this thread).
      await new Promise((r) => setImmediate(r));
      for (let i = 0; i < PER_ROUND; i++) created += Atomics.load(progress, i);
      // Exact: the claims are the series that exist, and nothing is left in flight.
      const series = (await c.get()).values.length;
      expect(series).toBeGreaterThanOrEqual(1);
      expect(Atomics.load(i32, word) & COUNT_MASK).toBe(c.seriesCount());
      expect(c.seriesCount()).toBe(series);
      expect(Atomics.load(i32, word) >>> 20).toBe(0);
      // A label set appears once in the export, whoever raced for it.
      const labels = (await c.get()).values.map((v) => v.labels.v);
      expect(new Set(labels).size).toBe(labels.length);
    }
    expect(created).toBeGreaterThan(0);
    // The family still fills to exactly maxSeries: on a small one, the same kills.
    const small = registry.counter({ name: 't_killed_small_total', help: 'Killed creators.', labelNames: ['v'], maxSeries: 40 });
    for (let round = 0; round < 6; round++) {
      progress.fill(0);
      const w = new Worker(new URL('./workers/series-kill.mjs', import.meta.url), {
        workerData: { handle: registry.handle, backend, progress: progress.buffer, index: 0, name: 't_killed_small_total', maxSeries: 40, limit: 20 },
      });
      const exited = new Promise((resolve) => w.once('exit', resolve));
      const target = 1 + Math.floor(Math.random() * 8);
      while (Atomics.load(progress, 0) < target) await new Promise((r) => setImmediate(r));
      void w.terminate();
      await exited;
      await new Promise((r) => setImmediate(r));
      small.reset();
    }
    for (let i = 0; i < 40; i++) small.inc({ v: `main${i}` });
    expect(small.seriesCount()).toBe(40);
    expectRejectedKeeping(() => registryState(registry), () => small.inc({ v: 'one-too-many' }), CardinalityLimitError);
  }, 180_000);
});
