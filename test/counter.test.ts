import { Counter as PromCounter, Registry as PromRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InvalidCountError, InvalidLabelsError, InvalidOptionsError, NameConflictError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected, userFamilies } from './helpers/metrics.js';

const key = (l: Record<string, unknown>) => JSON.stringify(Object.entries(l).sort());
const byLabels = (a: { labels: Record<string, unknown> }, b: { labels: Record<string, unknown> }) => (key(a.labels) < key(b.labels) ? -1 : 1);

describe.each(BACKENDS)('counter metric (%s backend)', (backend) => {
  it("takes prom-client's call shapes and get() matches prom-client's for the same calls", async () => {
    const r = StatsRegistry.create({ backend });
    const prom = new PromRegistry();
    const def = { name: 'http_requests_total', help: 'Requests served.', labelNames: ['route', 'code'] };
    const ours = r.counter(def);
    const theirs = new PromCounter({ ...def, registers: [prom] });
    type Shape = { inc(...a: unknown[]): void; labels(...a: unknown[]): { inc(n?: number): void } };
    for (const c of [ours, theirs] as unknown as Shape[]) {
      c.inc({ route: '/a', code: 200 });
      c.inc({ code: '200', route: '/a' }, 4);
      c.labels('/b', '500').inc();
      c.labels({ route: '/b', code: '500' }).inc(2);
      c.inc({ route: '/c', code: '200' }, 0);
    }
    const a = await ours.get();
    const b = await theirs.get();
    expect({ ...a, values: [...a.values].sort(byLabels) }).toEqual({
      ...b,
      values: [...b.values].map((v) => ({ labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])), value: v.value })).sort(byLabels),
    });
  });

  it('an unlabelled counter: inc(), inc(n), large integers exact', async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'jobs_total', help: 'Jobs.' });
    c.inc();
    c.inc(5);
    c.inc(2 ** 40);
    c.labels().inc(3);
    expect((await c.get()).values).toEqual([{ labels: {}, value: 2 ** 40 + 9 }]);
    expect(userFamilies(r).get('jobs_total')!.samples).toEqual([{ labels: {}, value: BigInt(2 ** 40 + 9) }]);
    expect(c.seriesCount()).toBe(1);
  });

  it('the same definition from another attachment is the same metric; striped series sum every stripe', async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const def = { name: 'hits_total', help: 'Hits.', labelNames: ['k'], striped: true };
    r.counter(def).inc({ k: 'x' }, 7);
    other.counter(def).inc({ k: 'x' }, 5);
    other.counter(def).inc({ k: 'y' });
    expect(r.counter(def)).toBe(r.counter({ ...def })); // one object per thread and definition
    const values = (await r.counter(def).get()).values.sort(byLabels);
    expect(values).toEqual([
      { labels: { k: 'x' }, value: 12 },
      { labels: { k: 'y' }, value: 1 },
    ]);
    expect(other.counter(def).seriesCount()).toBe(2);
  });

  it('float counters count fractions exactly (binary-exact amounts), striped or not', async () => {
    for (const striped of [false, true]) {
      const r = StatsRegistry.create({ backend, stripes: 2 });
      const c = r.counter({ name: 'cpu_seconds_total', help: 'CPU.', float: true, striped });
      const other = StatsRegistry.attach(r.handle).counter({ name: 'cpu_seconds_total', help: 'CPU.', float: true, striped });
      c.inc(0.5);
      c.inc();
      other.inc(0.25);
      other.inc(0.125);
      expect((await c.get()).values).toEqual([{ labels: {}, value: 1.875 }]);
      const f = userFamilies(r).get('cpu_seconds_total')!;
      expect(f.samples).toEqual([{ labels: {}, value: 1.875 }]);
      expect(f.unit).toBe('s');
      expectRejected(r, () => c.inc(-0.5), InvalidCountError);
      expectRejected(r, () => c.inc(Infinity), InvalidCountError);
      expectRejected(r, () => c.inc(NaN), InvalidCountError);
    }
  });

  it('refuses bad amounts with InvalidCountError and changes nothing', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'n_total', help: 'N.', labelNames: ['a'] });
    c.inc({ a: 'x' });
    for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53, '1', 1n, null]) {
      const e = expectRejected(r, () => c.inc({ a: 'x' }, bad as never), InvalidCountError);
      if (bad === 0.5) expect(e.message).toMatch(/float: true/);
      expectRejected(r, () => c.labels('x').inc(bad as never), InvalidCountError);
    }
    // A number in place of labels, with a value too: ambiguous, refused.
    expectRejected(r, () => c.inc(1 as never, 2), InvalidLabelsError);
  });

  it('another definition under the same name is a NameConflictError, and so is another kind', () => {
    const r = StatsRegistry.create({ backend });
    const def = { name: 'q_total', help: 'Q.', labelNames: ['a'] };
    r.counter(def);
    r.counters('a_set', ['x']);
    const other = StatsRegistry.attach(r.handle, { backend });
    for (const d of [
      { ...def, help: 'Other.' },
      { ...def, labelNames: ['b'] },
      { ...def, labelNames: [] },
      { ...def, striped: true },
      { ...def, float: true },
      { ...def, maxSeries: 10 },
      { ...def, unit: 's' },
    ]) {
      expectRejected(r, () => r.counter(d), NameConflictError);
      expectRejected(r, () => other.counter(d), NameConflictError);
    }
    expectRejected(r, () => r.gauge(def), NameConflictError);
    expectRejected(r, () => r.histogram(def), NameConflictError);
    expectRejected(r, () => r.counters('q_total', ['x']), NameConflictError);
    expectRejected(r, () => r.counter({ name: 'a_set', help: 'A.' }), NameConflictError);
  });

  it.each([
    [{ name: 'atomic_stats_mine', help: 'h' }, 'name'],
    [{ name: '1abc', help: 'h' }, 'name'],
    [{ name: 'a-b', help: 'h' }, 'name'],
    [{ name: 'x'.repeat(129), help: 'h' }, 'name'],
    [{ name: 5, help: 'h' }, 'name'],
    [{ name: 'ok' }, 'help'],
    [{ name: 'ok', help: '' }, 'help'],
    [{ name: 'ok', help: 'h', labelNames: ['__x'] }, 'labelNames'],
    [{ name: 'ok', help: 'h', labelNames: ['a-b'] }, 'labelNames'],
    [{ name: 'ok', help: 'h', labelNames: ['a', 'a'] }, 'labelNames'],
    [{ name: 'ok', help: 'h', labelNames: ['__proto__'] }, 'labelNames'],
    [{ name: 'ok', help: 'h', labelNames: 'a' }, 'labelNames'],
    [{ name: 'ok', help: 'h', maxSeries: 0 }, 'maxSeries'],
    [{ name: 'ok', help: 'h', maxSeries: 1.5 }, 'maxSeries'],
    [{ name: 'ok', help: 'h', unit: 'two words' }, 'unit'],
    [{ name: 'ok', help: 'h', striped: 'yes' }, 'striped'],
    [{ name: 'ok', help: 'h', float: 1 }, 'float'],
    [{ name: 'ok', help: 'h', buckets: [1] }, 'buckets'],
    [undefined, 'options'],
  ])('rejects the definition %j naming %s, changing nothing', (def, option) => {
    const r = StatsRegistry.create({ backend });
    const e = expectRejected(r, () => r.counter(def as never), InvalidOptionsError) as InvalidOptionsError;
    expect(e.option).toBe(option);
  });

  it('is exported under exactly its own name with a unit from the option or the name', () => {
    const r = StatsRegistry.create({ backend });
    r.counter({ name: 'rx_bytes_total', help: 'Bytes in.' }).inc(10);
    r.counter({ name: 'ops_total', help: 'Ops.', unit: '{operation}' }).inc();
    r.counter({ name: 'plain_total', help: 'Plain.' });
    const f = userFamilies(r);
    expect(f.get('rx_bytes_total')).toEqual({ name: 'rx_bytes_total', help: 'Bytes in.', type: 'counter', integer: true, unit: 'By', samples: [{ labels: {}, value: 10n }] });
    expect(f.get('ops_total')!.unit).toBe('{operation}');
    expect(f.get('plain_total')).toEqual({ name: 'plain_total', help: 'Plain.', type: 'counter', integer: true, samples: [{ labels: {}, value: 0n }] });
  });
});
