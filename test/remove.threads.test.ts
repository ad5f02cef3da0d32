// A series removed while other threads hold cached children of it: every write those
// children make afterwards is either in a series or counted in
// atomic_stats_metric_stale_writes_total, never lost and never in another series; the
// removed series' memory is reused only once no thread holds it.
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { startFlag, startWorkers } from './helpers/workers.js';

const WORKERS = 4;
const ROUNDS = 6;
const ITERATIONS = 20_000;

function stale(r: StatsRegistry, metric: string): number {
  const f = r.collect().find((x) => x.name === 'atomic_stats_metric_stale_writes_total');
  return Number(f?.samples.find((s) => s.labels.metric === metric)?.value ?? 0);
}

async function waitFor(i32: Int32Array, index: number, value: number): Promise<void> {
  while (Atomics.load(i32, index) < value) await new Promise((resolve) => setTimeout(resolve, 1));
}

describe.each(BACKENDS)('remove and reset under cached children in %s worker threads', (backend) => {
  it(`${WORKERS} workers, ${ROUNDS} rounds of ${ITERATIONS} writes, every series removed between rounds: exact totals`, async () => {
    const registry = StatsRegistry.create({ capacityBytes: 8 * 1024 * 1024, backend });
    const maxSeries = WORKERS + 2;
    const counter = registry.counter({ name: 'rm_total', help: 'R.', labelNames: ['w'], maxSeries });
    const hist = registry.histogram({ name: 'rm_seconds', help: 'R.', labelNames: ['w'], buckets: [1], maxSeries });
    const sync = new SharedArrayBuffer(8);
    const i32 = new Int32Array(sync);
    const run = startWorkers<{ writes: number }>(
      'remove-worker.mjs',
      Array.from({ length: WORKERS }, (_, index) => ({ handle: registry.handle, backend, index, sync, rounds: ROUNDS, iterations: ITERATIONS, maxSeries })),
    );
    await new Promise<void>((resolve) => {
      let n = 0;
      for (const w of run.workers) w.on('message', (m) => m === 'ready' && ++n === WORKERS && resolve());
    });
    let removedCounts = 0; // counter increments in series at the moment they were removed
    let removedObservations = 0; // histogram observations alike
    for (let round = 0; round < ROUNDS; round++) {
      Atomics.store(i32, 0, round + 1);
      Atomics.notify(i32, 0);
      await waitFor(i32, 1, (round + 1) * WORKERS);
      // Every worker is paused: these reads are exact.
      for (const v of (await counter.get()).values) removedCounts += v.value;
      for (const v of (await hist.get()).values) if (v.metricName === 'rm_seconds_count') removedObservations += v.value;
      // Series created and removed here while the workers' stale children hold removed
      // series' memory: a stale write landing in one would show here.
      for (let i = 0; i < 20; i++) {
        counter.inc({ w: `churn${i}` });
        hist.observe({ w: `churn${i}` }, 2);
        expect((await counter.get()).values.find((v) => v.labels.w === `churn${i}`)?.value).toBe(1);
        expect((await hist.get()).values.filter((v) => v.labels.w === `churn${i}`).map((v) => v.value)).toEqual([0, 1, 2, 1]);
        if (i % 2 === 0) {
          counter.remove({ w: `churn${i}` });
          hist.remove(`churn${i}`);
        } else {
          counter.remove(`churn${i}`);
          hist.remove({ w: `churn${i}` });
        }
      }
      counter.reset();
      hist.reset();
      expect(counter.seriesCount()).toBe(0);
      expect(hist.seriesCount()).toBe(0);
    }
    const total = WORKERS * ROUNDS * ITERATIONS;
    // Writes after the last reset: none. Every write is in a series read at a barrier or stale.
    expect(removedCounts + stale(registry, 'rm_total')).toBe(total);
    expect(removedObservations + stale(registry, 'rm_seconds')).toBe(total);
    // The even workers never passed a slow path: their children wrote stale from round 2 on.
    expect(stale(registry, 'rm_total')).toBeGreaterThanOrEqual((WORKERS / 2) * (ROUNDS - 1) * ITERATIONS);
    Atomics.store(i32, 0, ROUNDS + 1);
    Atomics.notify(i32, 0);
    const results = await run.results;
    expect(results.reduce((n, r) => n + r.writes, 0)).toBe(total);
    // The workers exited and let go: every removed node is reclaimed, its stale writes kept.
    expect(stale(registry, 'rm_total') + removedCounts).toBe(total);
    expect(stale(registry, 'rm_seconds') + removedObservations).toBe(total);
    expect((await counter.get()).values).toEqual([]);
    // And their memory is reused: the family has at least one node per worker (each held
    // by its worker until it exited) and the churn's, so that many new series take no new bytes.
    const used = registry.usage().usedBytes;
    for (let i = 0; i <= WORKERS; i++) {
      counter.inc({ w: `again${i}` });
      hist.observe({ w: `again${i}` }, 0.5);
    }
    expect(registry.usage().usedBytes).toBe(used);
    expect((await counter.get()).values.map((v) => v.value)).toEqual(Array(WORKERS + 1).fill(1));
  });
});

describe.each(BACKENDS)('series created and removed by %s worker threads at once', (backend) => {
  it(`${WORKERS} workers churning their own series in one family of exactly their total: every value exact, nothing stale, nothing refused`, async () => {
    const registry = StatsRegistry.create({ capacityBytes: 8 * 1024 * 1024, backend });
    const own = 8;
    const maxSeries = WORKERS * own;
    const counter = registry.counter({ name: 'churn_total', help: 'C.', labelNames: ['s'], maxSeries });
    const hist = registry.histogram({ name: 'churn_seconds', help: 'C.', labelNames: ['s'], buckets: [1], maxSeries });
    const flag = startFlag();
    const run = startWorkers<{ expected: [string, { count: number; observations: number }][] }>(
      'remove-churn.mjs',
      Array.from({ length: WORKERS }, (_, index) => ({ handle: registry.handle, backend, index, start: flag.sab, iterations: 30_000, own, maxSeries })),
    );
    await new Promise<void>((resolve) => {
      let n = 0;
      for (const w of run.workers) w.on('message', (m) => m === 'ready' && ++n === WORKERS && resolve());
    });
    flag.release();
    const expected = new Map((await run.results).flatMap((r) => r.expected));
    const counts = new Map((await counter.get()).values.map((v) => [String(v.labels.s), v.value]));
    expect(counts).toEqual(new Map([...expected].map(([s, e]) => [s, e.count])));
    const observations = new Map((await hist.get()).values.filter((v) => v.metricName === 'churn_seconds_count').map((v) => [String(v.labels.s), v.value]));
    expect(observations).toEqual(new Map([...expected].map(([s, e]) => [s, e.observations])));
    expect(counter.seriesCount()).toBe(expected.size);
    const stale = registry.collect().find((x) => x.name === 'atomic_stats_metric_stale_writes_total');
    expect(stale?.samples.map((x) => Number(x.value))).toEqual([0, 0]);
  });
});
