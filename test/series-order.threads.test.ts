// A scrape lists a family's series in the order threads created them (as prom-client lists
// them in insertion order), whatever creation races happened: when threads create the
// same series at once, the losers' nodes are freed and reused by later series, so an
// order by allocation put a later series first (the getting-started example once printed
// `rejected` before `placed`). Each round here has 4 threads create `first`, `second` and
// `third` together.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const ROUNDS = 40;
const WORKERS = 4;
const SERIES = ['first', 'second', 'third'];

describe.each(BACKENDS)('the order of series in a scrape (%s)', (backend) => {
  it(`is creation order after ${ROUNDS} rounds of ${WORKERS} threads creating the same series at once`, async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 16 << 20 });
    const start = new SharedArrayBuffer(4 * (ROUNDS + 1));
    const workers = Array.from(
      { length: WORKERS },
      () => new Worker(new URL('./workers/series-order.mjs', import.meta.url), { workerData: { handle: registry.handle, backend, start, rounds: ROUNDS, workers: WORKERS, series: SERIES } }),
    );
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    const done = workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
    await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    const orders: string[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const c = registry.counter({ name: `order_${round}_total`, help: 'h', labelNames: ['s'] });
      const values = (await c.get()).values;
      expect(values.map((v) => v.value)).toEqual([WORKERS, WORKERS, WORKERS]);
      orders.push(values.map((v) => v.labels.s as string));
    }
    expect(orders.filter((o) => o.join() !== SERIES.join())).toEqual([]);
  });
});
