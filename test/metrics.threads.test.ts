import { describe, expect, it } from 'vitest';
import { type BackendKind, CardinalityLimitError, type HistogramValue, type MetricFamily, StatsRegistry } from '../src/index.js';
import { readyCount, startFlag, startWorkers } from './helpers/workers.js';
import { userFamilies } from './helpers/metrics.js';

const ROUTES = ['/a', '/b', '/c'];
const POOLS = ['p0', 'p1'];
const OBSERVED = [0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5];
const BOUNDS = [0.25, 0.5, 1];

const sampleOf = (f: MetricFamily | undefined, labels: Record<string, string>) =>
  f?.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;

const BACKEND_MIXES: BackendKind[][] = [
  ['wasm', 'wasm', 'js', 'js'],
  ['js', 'wasm', 'js', 'wasm'],
];

describe.each([false, true])('four worker threads on labelled metrics (striped: %s)', (striped) => {
  it.each(BACKEND_MIXES)('backends %s %s %s %s: exact counts, gauge totals, bucket counts and sums', async (...backends) => {
    const registry = StatsRegistry.create({ stripes: 4 });
    const iterations = 60_000;
    const start = startFlag();
    const run = startWorkers<{ done: number }>(
      'metrics-worker.mjs',
      backends.map((backend, index) => ({ mode: 'work', handle: registry.handle, backend, striped, iterations, index, start: start.sab })),
    );
    await readyCount(run.workers);
    start.release();
    expect(await run.results).toEqual(backends.map(() => ({ done: iterations })));

    // What one worker does, computed here; every worker does the same.
    const perRoute = new Map(ROUTES.map((r) => [r, { n: 0, sum: 0, buckets: [0, 0, 0, 0] }]));
    for (let i = 0; i < iterations; i++) {
      const e = perRoute.get(ROUTES[i % ROUTES.length]!)!;
      const v = OBSERVED[i % OBSERVED.length]!;
      e.n++;
      e.sum += v;
      let b = 0;
      while (b < BOUNDS.length && v > BOUNDS[b]!) b++;
      e.buckets[b]!++;
    }
    const W = backends.length;
    const f = userFamilies(registry);
    for (const [route, e] of perRoute) {
      expect(sampleOf(f.get('t_requests_total'), { route })).toBe(BigInt(W * e.n));
      expect(sampleOf(f.get('t_bytes_total'), { route })).toBe(W * e.n * 0.5);
      const h = sampleOf(f.get('t_latency_seconds'), { route }) as HistogramValue;
      let cum = 0;
      expect(h.buckets.map((b) => [b.le, b.count])).toEqual(
        [...BOUNDS, Infinity].map((le, i) => [le, BigInt((cum += W * e.buckets[i]!))]),
      );
      expect(h.count).toBe(BigInt(W * e.n));
      expect(h.sum).toBe(W * e.sum);
    }
    for (const pool of POOLS) {
      const perWorker = Math.ceil((iterations - POOLS.indexOf(pool)) / POOLS.length);
      expect(sampleOf(f.get('t_inflight'), { pool })).toBe(W * perWorker);
    }
    expect([0, 1, 2, 3]).toContain(sampleOf(f.get('t_last_writer'), {}));
    expect(f.get('t_requests_total')!.samples).toHaveLength(ROUTES.length);
    const labelled = ['t_requests_total', 't_bytes_total', 't_latency_seconds', 't_inflight'].reduce((n, name) => n + f.get(name)!.samples.length, 0);
    expect(labelled).toBe(ROUTES.length * 3 + POOLS.length);
  });
});

describe('threads racing to create series', () => {
  it('the same label sets from four threads at once: one record each, and never more than maxSeries', async () => {
    const registry = StatsRegistry.create();
    const maxSeries = 150;
    const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
    const start = startFlag();
    const run = startWorkers<{ ok: number; refused: number }>(
      'metrics-worker.mjs',
      ['wasm', 'js', 'wasm', 'js'].map((backend, index) => ({ mode: 'race-create', handle: registry.handle, backend, maxSeries, values, index, start: start.sab })),
    );
    await readyCount(run.workers);
    start.release();
    const results = await run.results;
    const c = registry.counter({ name: 't_race_total', help: 'Race.', labelNames: ['v'], maxSeries });
    const series = () => userFamilies(registry).get('t_race_total')!.samples.map((x) => x.labels.v);
    expect(c.seriesCount()).toBe(series().length);
    expect(c.seriesCount()).toBeLessThanOrEqual(maxSeries);
    // Fill whatever a transient claim left free, then the limit holds exactly.
    for (const v of values) {
      try {
        c.inc({ v }, 0);
      } catch (e) {
        expect(e).toBeInstanceOf(CardinalityLimitError);
      }
    }
    expect(c.seriesCount()).toBe(maxSeries);
    expect(series()).toHaveLength(maxSeries);
    // Every successful inc landed on a series, and each label set is one series.
    const total = userFamilies(registry).get('t_race_total')!.samples.reduce((s, x) => s + (x.value as bigint), 0n);
    expect(total).toBe(BigInt(results.reduce((s, r) => s + r.ok, 0)));
    expect(new Set(series()).size).toBe(maxSeries);
    expect(results.every((r) => r.ok + r.refused === values.length)).toBe(true);
  });
});

describe('a worker terminated mid-operation', () => {
  it.each([false, true])('leaves every cell readable and at most one step of its last iteration unaccounted (striped: %s)', async (striped) => {
    const registry = StatsRegistry.create({ capacityBytes: 64 * 1024 * 1024, stripes: 4 });
    const start = startFlag();
    const run = startWorkers<unknown>(
      'metrics-worker.mjs',
      ['wasm', 'js'].map((backend, index) => ({ mode: 'die', handle: registry.handle, backend, striped, index, start: start.sab })),
      true,
    );
    await readyCount(run.workers);
    start.release();
    const progress = [0, 1].map((i) => registry.counter({ name: `t_progress_${i}_total`, help: 'Progress.' }));
    const read = async (c: (typeof progress)[number]) => (await c.get()).values[0]!.value;
    while ((await read(progress[0]!)) < 2000 || (await read(progress[1]!)) < 2000) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(run.workers.map((w) => w.terminate()));
    expect(await run.results).toEqual([undefined, undefined]);

    const P = (await read(progress[0]!)) + (await read(progress[1]!));
    const f = userFamilies(registry);
    // Per iteration: a new churn series, requests +1, inflight +2 then -1, one observation
    // of 0.5, progress +1 last. Each of the two workers may have died inside one iteration.
    const requests = Number(sampleOf(f.get('t_requests_total'), { route: '/a' }));
    expect(requests - P).toBeGreaterThanOrEqual(0);
    expect(requests - P).toBeLessThanOrEqual(2);
    const inflight = sampleOf(f.get('t_inflight'), { pool: 'p0' }) as number;
    expect(Number.isInteger(inflight)).toBe(true);
    expect(inflight - P).toBeGreaterThanOrEqual(0);
    expect(inflight - P).toBeLessThanOrEqual(4);
    const h = sampleOf(f.get('t_latency_seconds'), { route: '/a' }) as HistogramValue;
    expect(Number(h.count) - P).toBeGreaterThanOrEqual(0);
    expect(Number(h.count) - P).toBeLessThanOrEqual(2);
    // The sum may lack the observation a worker died between bucket and sum for.
    expect(Number(h.count) * 0.5 - h.sum).toBeGreaterThanOrEqual(0);
    expect(Number(h.count) * 0.5 - h.sum).toBeLessThanOrEqual(1);
    expect(h.buckets[1]!.count).toBe(h.count); // 0.5 is in the le=0.5 bucket
    // Series: the count is exact, or one high per worker that died between its claim and its publish.
    const churn = registry.counter({ name: 't_churn_total', help: 'Churn.', labelNames: ['i'], maxSeries: 1_000_000 });
    const records = userFamilies(registry).get('t_churn_total')!.samples.length;
    expect(records).toBeGreaterThanOrEqual(P / 2);
    expect(churn.seriesCount() - records).toBeGreaterThanOrEqual(0);
    expect(churn.seriesCount() - records).toBeLessThanOrEqual(2);
    // And a surviving thread carries on creating series.
    churn.inc({ i: 'after' });
    expect(sampleOf(userFamilies(registry).get('t_churn_total'), { i: 'after' })).toBe(1n);
  });
});
