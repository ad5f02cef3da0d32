// Summaries: prom-client's call shapes and MetricObject, the stated relative error of a
// percentile, exact count and sum, the sliding window (with a fake clock), reset / remove,
// and the `summary` exposition through the Prometheus adapter (checked by promtool).
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PERCENTILES, InvalidLabelsError, InvalidOptionsError, InvalidValueError, NameConflictError, SUMMARY_RELATIVE_ERROR, StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected } from './helpers/metrics.js';

afterEach(() => vi.useRealTimers());

/** The nearest-rank q-percentile of `xs`. */
export function exactPercentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

const quantiles = async (s: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> }, labels: Record<string, string> = {}) =>
  (await s.get()).values.filter((v) => v.metricName === undefined && Object.entries(labels).every(([k, x]) => v.labels[k] === x)).map((v) => [v.labels.quantile, v.value]);

describe.each(BACKENDS)('summary (%s backend)', (backend) => {
  it("prom-client's MetricObject: percentiles with `quantile` first, then _sum and _count, per series", async () => {
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'req_seconds', help: 'R.', labelNames: ['route'], percentiles: [0.5, 0.9] });
    s.observe({ route: '/a' }, 0.25);
    s.labels('/b').observe(1);
    s.labels({ route: '/b' }).observe(3);
    const got = await s.get();
    expect(got.type).toBe('summary');
    expect(got.aggregator).toBe('sum');
    expect(got.values.map((v) => [v.metricName, v.labels])).toEqual([
      [undefined, { quantile: 0.5, route: '/a' }],
      [undefined, { quantile: 0.9, route: '/a' }],
      ['req_seconds_sum', { route: '/a' }],
      ['req_seconds_count', { route: '/a' }],
      [undefined, { quantile: 0.5, route: '/b' }],
      [undefined, { quantile: 0.9, route: '/b' }],
      ['req_seconds_sum', { route: '/b' }],
      ['req_seconds_count', { route: '/b' }],
    ]);
    expect(got.values.filter((v) => v.metricName !== undefined).map((v) => v.value)).toEqual([0.25, 1, 4, 2]);
    const u = r.summary({ name: 'u_seconds', help: 'U.' });
    expect(u.percentiles).toEqual(DEFAULT_PERCENTILES);
    // Empty: 0, as prom-client reports an empty series.
    expect((await u.get()).values.map((v) => v.value)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('every percentile is within the stated relative error of the exact one, count and sum are exact', async () => {
    const r = StatsRegistry.create({ backend });
    const qs = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];
    const s = r.summary({ name: 'x', help: 'X.', percentiles: qs });
    // Values over eight orders of magnitude, negatives and zero too (a fixed generator).
    let seed = 42;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const xs: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = i % 97 === 0 ? 0 : (i % 13 === 0 ? -1 : 1) * 10 ** (rand() * 8 - 4);
      xs.push(v);
      s.observe(v);
    }
    const sorted = [...xs].sort((a, b) => a - b);
    for (const [q, got] of await quantiles(s)) {
      const want = exactPercentile(sorted, q as number);
      if (want === 0) expect(got).toBe(0);
      else expect(Math.abs((got as number) - want) / Math.abs(want)).toBeLessThanOrEqual(SUMMARY_RELATIVE_ERROR + 1e-12);
    }
    const values = (await s.get()).values;
    expect(values.find((v) => v.metricName === 'x_count')!.value).toBe(20_000);
    // The sum as the same observations added in order (one rounding per add, as the CAS add does).
    expect(values.find((v) => v.metricName === 'x_sum')!.value).toBe(xs.reduce((a, b) => a + b, 0));
    expect(SUMMARY_RELATIVE_ERROR).toBeCloseTo(0.0433, 4);
  });

  it('a sliding window: observations leave the percentiles after maxAgeSeconds, count and sum keep them', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'w_seconds', help: 'W.', percentiles: [0.5, 1], maxAgeSeconds: 10, ageBuckets: 5 });
    expect([s.maxAgeSeconds, s.ageBuckets]).toEqual([10, 5]);
    for (let i = 0; i < 10; i++) s.observe(100);
    vi.setSystemTime(1_000_000 + 4_000);
    s.observe(1);
    // Both still in the window: the median is 100's bucket, the max too.
    // A power of two is a bucket's upper bound, where the error reaches the bound (up to rounding).
    const near = (v: number, want: number) => Math.abs(v - want) / want <= SUMMARY_RELATIVE_ERROR + 1e-12;
    let q = await quantiles(s);
    expect(near(q[0]![1] as number, 100) && near(q[1]![1] as number, 100)).toBe(true);
    // Ten seconds after the 100s: their slice has left the window; the 1 is still in it.
    vi.setSystemTime(1_000_000 + 10_000);
    q = await quantiles(s);
    expect(near(q[0]![1] as number, 1) && near(q[1]![1] as number, 1)).toBe(true);
    // A writer landing on a slice of an old period starts it afresh.
    vi.setSystemTime(1_000_000 + 20_000);
    s.observe(7);
    q = await quantiles(s);
    expect(near(q[0]![1] as number, 7) && near(q[1]![1] as number, 7)).toBe(true);
    const values = (await s.get()).values;
    expect(values.find((v) => v.metricName === 'w_seconds_count')!.value).toBe(12);
    expect(values.find((v) => v.metricName === 'w_seconds_sum')!.value).toBe(1008);
    // Long after: nothing in the window, the percentiles are 0 again.
    vi.setSystemTime(1_000_000 + 1_000_000);
    expect((await quantiles(s)).map((x) => x[1])).toEqual([0, 0]);
  });

  it("reset zeroes every series and keeps it (prom-client's), remove drops one, startTimer observes seconds", async () => {
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'r_seconds', help: 'R.', labelNames: ['k'], percentiles: [0.5] });
    const child = s.labels('a');
    child.observe(5);
    s.observe({ k: 'b' }, 6);
    s.reset();
    expect((await s.get()).values.map((v) => v.value)).toEqual([0, 0, 0, 0, 0, 0]);
    child.observe(2);
    expect((await s.get()).values.filter((v) => v.labels.k === 'a').map((v) => v.metricName ?? 'q')).toEqual(['q', 'r_seconds_sum', 'r_seconds_count']);
    expect((await s.get()).values.filter((v) => v.labels.k === 'a' && v.metricName !== undefined).map((v) => v.value)).toEqual([2, 1]);
    s.remove({ k: 'b' });
    expect(new Set((await s.get()).values.map((v) => v.labels.k))).toEqual(new Set(['a']));
    const end = s.startTimer({ k: 'c' });
    const secs = end();
    expect(secs).toBeGreaterThanOrEqual(0);
    expect((await s.get()).values.find((v) => v.labels.k === 'c' && v.metricName === 'r_seconds_count')!.value).toBe(1);
  });

  it('bad definitions, labels and values are typed errors that change nothing', () => {
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'ok_seconds', help: 'O.', labelNames: ['k'] });
    s.observe({ k: 'a' }, 1);
    for (const bad of [
      { percentiles: [] },
      { percentiles: [0] },
      { percentiles: [1.5] },
      { percentiles: ['0.5'] },
      { maxAgeSeconds: 10 },
      { ageBuckets: 3 },
      { maxAgeSeconds: -1, ageBuckets: 3 },
      { maxAgeSeconds: 10, ageBuckets: 0 },
      { maxAgeSeconds: 10, ageBuckets: 2.5 },
      { maxAgeSeconds: 10, ageBuckets: 61 },
      { labelNames: ['quantile'] },
      { compressCount: 5 },
    ]) {
      expectRejected(r, () => r.summary({ name: 'bad_seconds', help: 'B.', ...bad } as never), InvalidOptionsError);
    }
    expectRejected(r, () => r.summary({ name: 'ok_seconds', help: 'O.', labelNames: ['k'], percentiles: [0.5] }), NameConflictError);
    expectRejected(r, () => r.histogram({ name: 'ok_seconds', help: 'O.', labelNames: ['k'] }), NameConflictError);
    for (const v of [NaN, Infinity, -Infinity, '1' as unknown as number]) expectRejected(r, () => s.observe({ k: 'a' }, v), InvalidValueError);
    expectRejected(r, () => s.observe({ j: 'a' } as never, 1), InvalidLabelsError);
    expectRejected(r, () => s.observe(1), InvalidLabelsError);
  });

  it('the Prometheus adapter writes a `summary` family that promtool accepts, in both formats', async () => {
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'job_seconds', help: 'Job time.', labelNames: ['queue'], percentiles: [0.5, 0.99] });
    for (let i = 1; i <= 100; i++) s.observe({ queue: 'mail' }, i / 8);
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    const text = await prom.metrics();
    expect(text).toContain('# TYPE job_seconds summary');
    expect(text).toMatch(/job_seconds\{quantile="0.5",queue="mail"\} [0-9.]+/);
    expect(text).toContain('job_seconds_sum{queue="mail"} 631.25');
    expect(text).toContain('job_seconds_count{queue="mail"} 100');
    const json = await prom.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'job_seconds')!.type).toBe('summary');
    // promtool is required, not optional (.ci/run installs Debian's prometheus): a missing one fails here.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    expect(lint.error, 'promtool is required (Debian: apt-get install prometheus)').toBeUndefined();
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });
});

// reset() racing another thread's write to a slice count: a rotation's zeroing of the
// slice, or a second reset(), landing between this reset's read of the count and its own
// write. Threads cannot be made to meet inside those few instructions on demand, so the
// other thread's write is made at that instant by this one, from a wrapper of
// Atomics.load that fires once, on the load of that word, after it returned the count.
describe.each(BACKENDS)('summary reset() racing a write to a slice count (%s backend)', (backend) => {
  const racing = {
    "a rotation's zeroing": (i32: Int32Array, w: number) => Atomics.store(i32, w, 0),
    'a second reset': (i32: Int32Array, w: number) => Atomics.exchange(i32, w, 0),
  };
  it.each(Object.keys(racing))('%s between its read and its write leaves the count at zero, never negative', async (name) => {
    const r = StatsRegistry.create({ backend });
    const s = r.summary({ name: 'race_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5, 1], striped: false });
    for (let i = 0; i < 3; i++) s.observe({ s: 'a' }, 4);
    const buffer = r.handle.memory.buffer;
    const [bucket, count] = s.windowCounts({ s: 'a' })![0]!;
    expect(count).toBe(3);
    // The series' slice word of that bucket: the one word of the memory that holds 3 and
    // is read by the reset (the count and sum cells are read as 64-bit values).
    const at = (s as unknown as { seriesCells(): { dataOffset: number }[] }).seriesCells()[0]!.dataOffset;
    const word = ((at + 24) >>> 2) + 2 + bucket;
    expect(new Int32Array(buffer)[word]).toBe(3);
    const load = Atomics.load;
    let fired = 0;
    Atomics.load = ((a: Int32Array, i: number) => {
      const v = load(a, i);
      if (fired === 0 && a.buffer === buffer && i === word && v === 3) {
        fired++;
        racing[name as keyof typeof racing](a, i);
      }
      return v;
    }) as typeof Atomics.load;
    try {
      s.reset();
    } finally {
      Atomics.load = load;
    }
    expect(fired).toBe(1);
    expect(new Int32Array(buffer)[word]).toBe(0);
    expect(s.windowCounts({ s: 'a' })).toEqual([]);
    s.observe({ s: 'a' }, 4);
    expect(s.windowCounts({ s: 'a' })).toEqual([[bucket, 1]]);
    expect(await quantiles(s, { s: 'a' })).toEqual([[0.5, expect.closeTo(4, 0)], [1, expect.closeTo(4, 0)]]);
  });
});
