// A histogram observation on a thread's own stripe (its bucket, then its sum) is whole or
// absent in a thread terminated at any instant: every observation here is 1, so once the
// threads are gone the sum equals the count exactly. One registry serves every round, so
// each round's writers take over the stripes the writers of the round before left.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type HistogramValue, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const ROUNDS = 25;
const PER_ROUND = 4;

describe.each(BACKENDS)('histogram observations of terminated writers (%s)', (backend) => {
  it(`${ROUNDS * PER_ROUND} writers terminated at random points leave every observation whole`, async () => {
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    const h = registry.histogram({ name: 'killed_seconds', help: 'h', buckets: [0.5, 2], striped: true });
    const read = (): HistogramValue => registry.collect().find((f) => f.name === 'killed_seconds')!.samples[0]!.value as HistogramValue;
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let turns = 0;
    let broken = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/observe-kill.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, progress: progress.buffer, index },
          }),
      );
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      for (let i = 0; i < PER_ROUND; i++) {
        const target = 1 + Math.floor(Math.random() * 400);
        while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
        void workers[i]!.terminate();
      }
      await Promise.all(exited);
      for (let i = 0; i < PER_ROUND; i++) turns += Atomics.load(progress, i);
      const v = read();
      if (v.sum !== Number(v.count)) broken++;
    }
    const v = read();
    expect({ broken, sum: v.sum }).toEqual({ broken: 0, sum: Number(v.count) });
    // Every observation is 1: all in the middle bucket (le 2), none in le 0.5.
    expect(v.buckets.map((b) => b.count)).toEqual([0n, v.count, v.count]);
    expect(v.count).toBeGreaterThanOrEqual(BigInt(turns));
    expect(v.count).toBeLessThanOrEqual(BigInt(turns + ROUNDS * PER_ROUND));
    void h;
  });
});
