import { Histogram as PromHistogram, Registry as PromRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUCKETS,
  type HistogramValue,
  InvalidLabelsError,
  InvalidOptionsError,
  InvalidValueError,
  NameConflictError,
  StatsRegistry,
  exponentialBuckets,
  linearBuckets,
  nativeBuckets,
} from '../src/index.js';
import { bucketIndex, quantileFromBuckets } from '../src/kinds/buckets.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected, userFamilies } from './helpers/metrics.js';

const sample = (r: StatsRegistry, name: string, labels: Record<string, string> = {}) =>
  userFamilies(r)
    .get(name)!
    .samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))!.value as HistogramValue;

describe('bucket math', () => {
  it("defaults to prom-client's buckets", () => {
    const h = new PromHistogram({ name: 'x', help: 'x', registers: [] });
    expect([...DEFAULT_BUCKETS]).toEqual((h as unknown as { upperBounds: number[] }).upperBounds);
  });

  it('puts a value equal to a bound in that bucket (le), linear and binary search agree', () => {
    const small = Float64Array.from([1, 2, 3]);
    expect([0, 1, 1.5, 2, 3, 3.5, -7].map((v) => bucketIndex(small, v))).toEqual([0, 0, 1, 1, 2, 3, 0]);
    const big = Float64Array.from(linearBuckets(0, 1, 40));
    for (let v = -2; v <= 42; v += 0.25) {
      let expected = 0;
      while (expected < big.length && v > big[expected]!) expected++;
      expect(bucketIndex(big, v)).toBe(expected);
    }
  });

  it('estimates quantiles like histogram_quantile', () => {
    const bounds = [1, 2, 4];
    const cum = [10n, 30n, 40n, 40n];
    expect(quantileFromBuckets(0.5, bounds, cum)).toBe(1 + (20 - 10) / 20);
    expect(quantileFromBuckets(0.25, bounds, cum)).toBe(1); // rank 10 is the top of the first bucket
    expect(quantileFromBuckets(0.125, bounds, cum)).toBe(0.5);
    expect(quantileFromBuckets(1, bounds, cum)).toBe(4);
    expect(quantileFromBuckets(0.99, bounds, [0n, 0n, 1n, 2n])).toBe(4); // rank in +Inf: largest finite bound
    expect(quantileFromBuckets(0.5, bounds, [0n, 0n, 0n, 0n])).toBeNaN();
    expect(quantileFromBuckets(0.5, [-1, 0, 1], [4n, 4n, 4n, 4n])).toBe(-1);
  });

  it('nativeBuckets lie on the native-histogram grid and cover the range', () => {
    expect(nativeBuckets(0, 1, 8)).toEqual([1, 2, 4, 8]);
    expect(nativeBuckets(0, 1.5, 5)).toEqual([1, 2, 4, 8]);
    expect(nativeBuckets(-1, 1, 16)).toEqual([1, 4, 16]);
    const b = nativeBuckets(3, 0.001, 100);
    expect(b[0]!).toBeLessThanOrEqual(0.001);
    expect(b[1]!).toBeGreaterThan(0.001);
    expect(b[b.length - 1]!).toBeGreaterThanOrEqual(100);
    expect(b[b.length - 2]!).toBeLessThan(100);
    for (const x of b) {
      const i = Math.log2(x) * 8;
      expect(Math.abs(i - Math.round(i))).toBeLessThan(1e-9); // an integer index at schema 3
    }
    expect(b).toContain(1);
    expect(b).toContain(2);
    expect(() => nativeBuckets(9, 1, 2)).toThrow(InvalidOptionsError);
    expect(() => nativeBuckets(3, 0, 2)).toThrow(InvalidOptionsError);
    expect(() => nativeBuckets(8, 1e-9, 1e9)).toThrow(InvalidOptionsError);
    const r = StatsRegistry.create();
    r.histogram({ name: 'native_seconds', help: 'N.', buckets: nativeBuckets(2, 0.01, 10) }).observe(1);
  });

  it('linearBuckets and exponentialBuckets build bounds and refuse nonsense', () => {
    expect(linearBuckets(0.5, 0.5, 3)).toEqual([0.5, 1, 1.5]);
    expect(exponentialBuckets(1, 2, 4)).toEqual([1, 2, 4, 8]);
    expect(() => linearBuckets(0, 0, 3)).toThrow(InvalidOptionsError);
    expect(() => exponentialBuckets(0, 2, 3)).toThrow(InvalidOptionsError);
    expect(() => exponentialBuckets(1, 2, 0)).toThrow(InvalidOptionsError);
  });
});

describe.each(BACKENDS)('histogram metric (%s backend)', (backend) => {
  it.each([false, true])("get() equals prom-client's for the same observations (striped: %s)", async (striped) => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const def = { name: 'req_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.125, 0.5, 1] };
    const ours = r.histogram({ ...def, striped });
    const theirs = new PromHistogram({ ...def, registers: [new PromRegistry()] });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' }).histogram({ ...def, striped });
    // Exact in binary, so every order of adding them (stripes are summed on read) gives one sum.
    const values = [0.0625, 0.125, 0.25, 0.5, 0.75, 1, 2, -1];
    values.forEach((v, i) => {
      (i % 2 ? other : ours).observe({ route: '/a' }, v);
      theirs.observe({ route: '/a' }, v);
    });
    ours.labels('/b').observe(0.5);
    theirs.labels('/b').observe(0.5);
    const a = await ours.get();
    const b = await theirs.get();
    const route = (v: { labels: Record<string, unknown> }) => String(v.labels.route);
    const order = (xs: typeof a.values) => [...xs].sort((p, q) => route(p).localeCompare(route(q)));
    // prom-client adds an exemplar slot to each value; exemplars are not part of this package.
    const plain = (b.values as { exemplar?: unknown }[]).map(({ exemplar: _, ...v }) => v);
    expect({ ...a, values: order(a.values) }).toEqual({ ...b, values: order(plain as never) });
    const h = sample(r, 'req_seconds', { route: '/a' });
    expect(h.count).toBe(8n);
    expect(h.buckets.map((x) => [x.le, x.count])).toEqual([
      [0.125, 3n], // -1 too: the first bucket holds everything <= its bound
      [0.5, 5n],
      [1, 7n],
      [Infinity, 8n],
    ]);
    expect(h.sum).toBe(values.reduce((s, v) => s + v, 0));
    expect(userFamilies(r).get('req_seconds')!.unit).toBe('s');
  });

  it('quantile() interpolates in the bucket of the rank and never creates a series', () => {
    const r = StatsRegistry.create({ backend });
    const h = r.histogram({ name: 'size_bytes', help: 'Sizes.', labelNames: ['kind'], buckets: [100, 200, 400, 800] });
    for (let i = 0; i < 100; i++) h.observe({ kind: 'a' }, i < 50 ? 50 : i < 90 ? 150 : 600);
    expect(h.quantile(0.5, { kind: 'a' })).toBe(100);
    expect(h.quantile(0.7, { kind: 'a' })).toBe(100 + 100 * (20 / 40));
    expect(h.quantile(0.95, { kind: 'a' })).toBe(400 + 400 * (5 / 10));
    const before = r.entries().length;
    expect(h.quantile(0.5, { kind: 'never' })).toBeNaN();
    expect(r.entries().length).toBe(before);
    expect(h.seriesCount()).toBe(1);
    expectRejected(r, () => h.quantile(1.5, { kind: 'a' }), InvalidOptionsError);
    expectRejected(r, () => h.quantile(NaN, { kind: 'a' }), InvalidOptionsError);
    expectRejected(r, () => h.quantile(0.5), InvalidLabelsError);
    expect(userFamilies(r).get('size_bytes')!.unit).toBe('By');
  });

  it('startTimer observes the seconds elapsed under its labels merged with the end labels', () => {
    const r = StatsRegistry.create({ backend });
    const h = r.histogram({ name: 'step_seconds', help: 'Steps.', labelNames: ['step', 'outcome'] });
    const s = h.startTimer({ step: 'fetch' })({ outcome: 'ok' });
    expect(s).toBeGreaterThanOrEqual(0);
    const v = sample(r, 'step_seconds', { outcome: 'ok', step: 'fetch' });
    expect(v.count).toBe(1n);
    expect(v.sum).toBe(s);
    const u = r.histogram({ name: 'plain_seconds', help: 'P.' });
    const t = u.labels().startTimer()();
    expect(sample(r, 'plain_seconds').sum).toBe(t);
  });

  it('refuses bad buckets, reserved labels, non-finite observations, changing nothing', () => {
    const r = StatsRegistry.create({ backend });
    for (const buckets of [[], [1, 1], [2, 1], [1, NaN], [1, Infinity], ['1'], 'x', new Array(257).fill(0).map((_, i) => i)]) {
      expectRejected(r, () => r.histogram({ name: 'h', help: 'H.', buckets: buckets as never }), InvalidOptionsError);
    }
    expectRejected(r, () => r.histogram({ name: 'h', help: 'H.', labelNames: ['le'] }), InvalidOptionsError);
    const h = r.histogram({ name: 'h', help: 'H.', labelNames: ['a'], buckets: [1] });
    h.observe({ a: 'x' }, 1);
    for (const bad of [NaN, Infinity, -Infinity, '1', undefined, 1n]) {
      expectRejected(r, () => h.observe({ a: 'x' }, bad as never), InvalidValueError);
      expectRejected(r, () => h.labels('x').observe(bad as never), InvalidValueError);
    }
    expectRejected(r, () => h.observe(1), InvalidLabelsError);
    // @ts-expect-error le is not one of the histogram's label names
    expectRejected(r, () => h.observe({ a: 'x', le: '1' }, 1), InvalidLabelsError);
    expectRejected(r, () => r.histogram({ name: 'h', help: 'H.', labelNames: ['a'], buckets: [2] }), NameConflictError);
    expectRejected(r, () => r.histogram({ name: 'h', help: 'H.', labelNames: ['a'], buckets: [1], striped: true }), NameConflictError);
    // -0 and 0 are one bound: the same definition.
    expect(r.histogram({ name: 'z', help: 'Z.', buckets: [-0, 1] })).toBe(r.histogram({ name: 'z', help: 'Z.', buckets: [0, 1] }));
  });

  it('many buckets (binary search) and large counts read exactly', () => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const h = r.histogram({ name: 'wide', help: 'W.', buckets: linearBuckets(1, 1, 100), striped: true });
    for (let i = 0; i <= 101; i++) h.observe(i);
    const v = sample(r, 'wide');
    expect(v.count).toBe(102n);
    expect(v.buckets[0]).toEqual({ le: 1, count: 2n });
    expect(v.buckets[99]).toEqual({ le: 100, count: 101n });
    expect(v.buckets[100]).toEqual({ le: Infinity, count: 102n });
    expect(v.sum).toBe((101 * 102) / 2);
  });
});

describe.each(BACKENDS)('step durations as a shared histogram (%s backend)', (backend) => {
  const FAMILY = 'atomic_stats_step_execution_duration_seconds';

  it('stats opened with durations: true observe each success in seconds; the DTO is unchanged', () => {
    const r = StatsRegistry.create({ backend });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const s = r.stepExecutionStats('fetch', { durations: true });
    s.recordSuccess(100);
    other.stepExecutionStats('fetch', { durations: true }).recordSuccess(200);
    s.recordFailure();
    s.recordSuccess(4000);
    expect(s.snapshot()).toEqual({ total_executed: 4, total_succeeded: 3, total_failed: 1, average_execution_time_ms: 4300 / 4 });
    const f = userFamilies(r); // built-in families are filtered there; read it from collect()
    expect(f.has(FAMILY)).toBe(false);
    const fam = r.collect().find((x) => x.name === FAMILY)!;
    expect(fam.type).toBe('histogram');
    expect(fam.unit).toBe('s');
    expect(fam.samples).toHaveLength(1);
    const h = fam.samples[0]!;
    expect(h.labels).toEqual({ name: 'fetch' });
    const v = h.value as HistogramValue;
    expect(v.count).toBe(3n);
    expect(v.sum).toBeCloseTo(4.3, 12);
    expect(v.buckets.find((b) => b.le === 0.1)!.count).toBe(1n);
    expect(v.buckets.find((b) => b.le === 0.25)!.count).toBe(2n);
    expect(v.buckets.find((b) => b.le === 5)!.count).toBe(3n);
  });

  it('is opt-in and part of the definition; bad input observes nothing', () => {
    const r = StatsRegistry.create({ backend });
    r.stepExecutionStats('plain').recordSuccess(5);
    expect(r.collect().some((x) => x.name === FAMILY)).toBe(false);
    expectRejected(r, () => r.stepExecutionStats('plain', { durations: true }), NameConflictError);
    expectRejected(r, () => r.stepExecutionStats('x', { durations: 'yes' as never }), InvalidOptionsError);
    expectRejected(r, () => r.stepExecutionStats('é'.repeat(120), { durations: true }), InvalidOptionsError);
    const s = r.stepExecutionStats('timed', { durations: true });
    expect(r.stepExecutionStats('timed', { durations: true })).toBe(s);
    expectRejected(r, () => r.stepExecutionStats('timed'), NameConflictError);
    expectRejected(r, () => s.recordSuccess(-1), Error);
    expectRejected(r, () => s.recordSuccess(1.5), Error);
    expect(r.stepExecutionStats('off', { durations: false })).toBe(r.stepExecutionStats('off'));
  });
});
