// remove(labels), reset() and zero(labels) on counters, gauges and histograms, with
// prom-client's call shapes, in one thread; test/remove.threads.test.ts races them with
// worker threads that hold cached children.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CardinalityLimitError, InvalidLabelsError, NotResettableError, StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected, userFamilies } from './helpers/metrics.js';

const k = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());
const values = (r: StatsRegistry, name: string) => new Map((userFamilies(r).get(name)?.samples ?? []).map((s) => [k(s.labels), s.value]));
const stale = (r: StatsRegistry, metric: string) =>
  r
    .collect()
    .find((f) => f.name === 'atomic_stats_metric_stale_writes_total')
    ?.samples.find((s) => s.labels.metric === metric)?.value;

describe.each(BACKENDS)('remove, reset and zero (%s backend)', (backend) => {
  it('remove takes a label object or the values in labelNames order; a missing series is a no-op', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'req_total', help: 'R.', labelNames: ['method', 'code'] });
    c.inc({ method: 'GET', code: '200' }, 2);
    c.inc({ method: 'PUT', code: '500' }, 3);
    c.inc({ method: 'GET', code: '404' }, 4);
    c.remove({ code: '200', method: 'GET' });
    expect(values(r, 'req_total')).toEqual(new Map([[k({ code: '500', method: 'PUT' }), 3n], [k({ code: '404', method: 'GET' }), 4n]]));
    c.remove('PUT', 500);
    expect(values(r, 'req_total')).toEqual(new Map([[k({ code: '404', method: 'GET' }), 4n]]));
    expect(c.seriesCount()).toBe(1);
    c.remove('PUT', '500');
    c.remove({ method: 'never', code: 'seen' });
    expect(values(r, 'req_total')).toEqual(new Map([[k({ code: '404', method: 'GET' }), 4n]]));
    // A series removed and written again starts from zero, as in prom-client.
    c.inc({ method: 'GET', code: '200' });
    expect(values(r, 'req_total').get(k({ code: '200', method: 'GET' }))).toBe(1n);
  });

  it('bad label input to remove and zero is InvalidLabelsError and changes nothing', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'l_total', help: 'L.', labelNames: ['a', 'b'] });
    c.inc({ a: 'x', b: 'y' });
    for (const bad of [{ a: 'x' }, { a: 'x', b: 'y', c: 'z' }, { a: 'x', b: null }, [], 'x']) {
      expectRejected(r, () => c.remove(bad as never), InvalidLabelsError);
      expectRejected(r, () => c.zero(bad as never), InvalidLabelsError);
    }
    expectRejected(r, () => c.remove('x'), InvalidLabelsError);
    expectRejected(r, () => c.remove('x', 'y', 'z'), InvalidLabelsError);
    expectRejected(r, () => (c.remove as () => void)(), InvalidLabelsError);
    const u = r.gauge({ name: 'u', help: 'U.' });
    expectRejected(r, () => u.remove({ a: 'x' } as never), InvalidLabelsError);
  });

  it('remove gives the maxSeries unit back at once, and churning label values keep the memory bounded', () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'jobs_total', help: 'J.', labelNames: ['job'], maxSeries: 4 });
    for (let i = 0; i < 4; i++) c.inc({ job: `j${i}` });
    expectRejected(r, () => c.inc({ job: 'one-more' }), CardinalityLimitError);
    c.remove({ job: 'j0' });
    expect(c.seriesCount()).toBe(3);
    c.inc({ job: 'one-more' });
    expect(c.seriesCount()).toBe(4);
    // 2,000 tenants coming and going through a family of 4: the nodes are reused.
    const h = r.histogram({ name: 'tenant_seconds', help: 'T.', labelNames: ['tenant'], maxSeries: 4 });
    h.observe({ tenant: 'warm' }, 1);
    h.remove({ tenant: 'warm' });
    const used = r.usage().usedBytes;
    for (let i = 0; i < 2000; i++) {
      const t = { tenant: `t${i}` };
      h.observe(t, 0.1);
      h.labels(t).observe(0.2);
      h.remove(t);
    }
    expect(r.usage().usedBytes).toBe(used);
    expect(h.seriesCount()).toBe(0);
    expect(stale(r, 'tenant_seconds')).toBe(0);
  });

  it('children of short and long label values (a small or a large node head) alike: removed, re-bound and churned, every node they held is given back', async () => {
    const r = StatsRegistry.create({ backend });
    // A counter's cells are inline in a node of a short key; a histogram's follow a small
    // head. A key longer than the small head holds takes a large head (series-table.ts):
    // the thread finds the node each child holds from the child's cells and that head.
    const long = 'v'.repeat(90);
    const c = r.counter({ name: 'heads_total', help: 'H.', labelNames: ['a'], maxSeries: 4 });
    const h = r.histogram({ name: 'heads_seconds', help: 'H.', labelNames: ['a'], buckets: [1], maxSeries: 4 });
    const kept = [c.labels({ a: 's' }), c.labels({ a: long })];
    const keptH = [h.labels({ a: 's' }), h.labels({ a: long })];
    for (const k of kept) k.inc(2);
    for (const k of keptH) k.observe(0.5);
    const used = r.usage().usedBytes;
    for (let round = 0; round < 30; round++) {
      for (const a of ['s', long]) {
        c.remove({ a });
        h.remove({ a });
      }
      // The kept children re-bind: the series come back with only these writes.
      for (const k of kept) k.inc(1);
      for (const k of keptH) k.observe(2);
    }
    expect(values(r, 'heads_total')).toEqual(new Map([[k({ a: 's' }), 1n], [k({ a: long }), 1n]]));
    const hv = (await h.get()).values.filter((v) => v.metricName === 'heads_seconds_count');
    expect(hv.map((v) => [v.labels.a, v.value])).toEqual([['s', 1], [long, 1]]);
    // Nodes reused round after round: every reference the children held was released.
    expect(r.usage().usedBytes).toBe(used);
    expect(stale(r, 'heads_total')).toBe(0);
    expect(stale(r, 'heads_seconds')).toBe(0);
    expect(c.labels({ a: long })).toBe(kept[1]);
  });

  it('a child this thread cached keeps working after remove: its next write creates the series again', async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'c_total', help: 'C.', labelNames: ['a'] });
    const g = r.gauge({ name: 'g', help: 'G.', labelNames: ['a'] });
    const h = r.histogram({ name: 'h_seconds', help: 'H.', labelNames: ['a'], buckets: [1] });
    const cc = c.labels({ a: 'x' });
    const gc = g.labels('x');
    const hc = h.labels({ a: 'x' });
    cc.inc(5);
    gc.set(7);
    hc.observe(0.5);
    c.remove({ a: 'x' });
    g.remove('x');
    h.remove({ a: 'x' });
    expect((await c.get()).values).toEqual([]);
    expect((await g.get()).values).toEqual([]);
    cc.inc(2);
    gc.inc(1);
    hc.observe(2);
    expect((await c.get()).values).toEqual([{ labels: { a: 'x' }, value: 2 }]);
    expect((await g.get()).values).toEqual([{ labels: { a: 'x' }, value: 1 }]);
    const hv = (await h.get()).values;
    expect(hv.find((v) => v.metricName === 'h_seconds_count')?.value).toBe(1);
    expect(hv.find((v) => v.metricName === 'h_seconds_sum')?.value).toBe(2);
    // The child is the one labels() returns again.
    expect(c.labels({ a: 'x' })).toBe(cc);
    expect(stale(r, 'c_total')).toBe(0);
  });

  it('a kept child re-bound after labels() made a new one for its labels: both write the one series, follow later removals, and give their memory back', async () => {
    const r = StatsRegistry.create({ backend });
    const reader = StatsRegistry.attach(r.handle, { backend });
    const c = r.counter({ name: 'kept_total', help: 'K.', labelNames: ['a', 'b'], maxSeries: 2, striped: true });
    const first = c.labels({ a: 'x', b: 'y' });
    first.inc(1);
    c.remove({ a: 'x', b: 'y' });
    // A new child for the same labels, while `first` is detached; then `first` re-binds.
    const second = c.labels({ a: 'x', b: 'y' });
    expect(second).not.toBe(first);
    second.inc(2);
    first.inc(3);
    expect(values(r, 'kept_total')).toEqual(new Map([[k({ a: 'x', b: 'y' }), 5n]]));
    expect(c.labels('x', 'y')).toBe(second);
    // Both detach at the next removal; the first to write again is the cached one after.
    c.remove('x', 'y');
    first.inc(4);
    second.inc(5);
    expect(values(r, 'kept_total')).toEqual(new Map([[k({ a: 'x', b: 'y' }), 9n]]));
    expect(c.labels({ b: 'y', a: 'x' })).toBe(first);
    expect(c.seriesCount()).toBe(1);
    // Every node they held is reclaimed once removed: churn takes no new memory, nothing is stale.
    c.reset();
    const used = r.usage().usedBytes;
    for (let i = 0; i < 50; i++) {
      c.inc({ a: `n${i}`, b: 'y' });
      c.remove({ a: `n${i}`, b: 'y' });
    }
    expect(r.usage().usedBytes).toBe(used);
    expect(stale(r, 'kept_total')).toBe(0);
    // Handing the stripe back reaches the re-bound children too: they keep counting.
    first.inc(1);
    second.inc(1);
    r.close();
    first.inc(1);
    second.inc(1);
    expect(values(reader, 'kept_total')).toEqual(new Map([[k({ a: 'x', b: 'y' }), 4n]]));
    reader.close();
  });

  it('writes through a child another registry object cached after a remove are counted as stale, never lost or elsewhere', () => {
    const a = StatsRegistry.create({ backend });
    // Another registry object on the same memory caches the way another thread does.
    const b = StatsRegistry.attach(a.handle, { backend });
    const ca = a.counter({ name: 's_total', help: 'S.', labelNames: ['k'], maxSeries: 2 });
    const cb = b.counter({ name: 's_total', help: 'S.', labelNames: ['k'], maxSeries: 2 });
    const held = cb.labels({ k: 'x' });
    held.inc(10);
    ca.remove({ k: 'x' });
    // b has not passed a slow path: its child writes into the removed series' memory.
    held.inc(3);
    held.inc(4);
    // Churn in a: the removed series' memory must not be reused while b holds it.
    for (let i = 0; i < 50; i++) {
      ca.inc({ k: `n${i}` });
      expect(values(a, 's_total').get(k({ k: `n${i}` }))).toBe(1n);
      ca.remove({ k: `n${i}` });
    }
    expect(values(a, 's_total')).toEqual(new Map());
    expect(stale(a, 's_total')).toBe(7);
    // b's next slow path detaches the child; its next write re-creates the series.
    cb.inc({ k: 'other' });
    held.inc(1);
    expect(values(a, 's_total')).toEqual(new Map([[k({ k: 'other' }), 1n], [k({ k: 'x' }), 1n]]));
    // The stale count survives the node's reuse.
    ca.reset();
    for (let i = 0; i < 10; i++) ca.inc({ k: `m${i % 2}` });
    expect(stale(a, 's_total')).toBe(7);
  });

  it('reset removes every labelled series and zeroes an unlabelled one', async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'r_total', help: 'R.', labelNames: ['a'], maxSeries: 2 });
    const u = r.counter({ name: 'u_total', help: 'U.' });
    const fu = r.counter({ name: 'fu_total', help: 'U.', float: true });
    const gu = r.gauge({ name: 'gu', help: 'G.' });
    const hu = r.histogram({ name: 'hu_seconds', help: 'H.', buckets: [1] });
    c.inc({ a: 'x' });
    c.inc({ a: 'y' }, 2);
    u.inc(5);
    fu.inc(0.5);
    gu.set(-3);
    hu.observe(0.5);
    hu.observe(3);
    for (const m of [c, u, fu, gu, hu]) m.reset();
    expect((await c.get()).values).toEqual([]);
    expect(c.seriesCount()).toBe(0);
    c.inc({ a: 'p' });
    c.inc({ a: 'q' });
    expect((await u.get()).values).toEqual([{ labels: {}, value: 0 }]);
    expect((await fu.get()).values).toEqual([{ labels: {}, value: 0 }]);
    expect((await gu.get()).values).toEqual([{ labels: {}, value: 0 }]);
    expect((await hu.get()).values.map((v) => v.value)).toEqual([0, 0, 0, 0]);
    u.inc();
    hu.observe(2);
    expect((await u.get()).values).toEqual([{ labels: {}, value: 1 }]);
    expect((await hu.get()).values.map((v) => v.value)).toEqual([0, 1, 2, 1]);
  });

  it('zero makes the series exist with zero values, keeping it', async () => {
    const r = StatsRegistry.create({ backend });
    const h = r.histogram({ name: 'z_seconds', help: 'Z.', labelNames: ['route'], buckets: [0.5, 1] });
    h.zero({ route: '/a' });
    expect((await h.get()).values).toEqual([
      { labels: { route: '/a', le: 0.5 }, value: 0, metricName: 'z_seconds_bucket' },
      { labels: { route: '/a', le: 1 }, value: 0, metricName: 'z_seconds_bucket' },
      { labels: { route: '/a', le: '+Inf' }, value: 0, metricName: 'z_seconds_bucket' },
      { labels: { route: '/a' }, value: 0, metricName: 'z_seconds_sum' },
      { labels: { route: '/a' }, value: 0, metricName: 'z_seconds_count' },
    ]);
    const child = h.labels('/a');
    child.observe(0.25);
    child.observe(0.75);
    h.zero('/a');
    expect((await h.get()).values.map((v) => v.value)).toEqual([0, 0, 0, 0, 0]);
    child.observe(2);
    expect((await h.get()).values.map((v) => v.value)).toEqual([0, 0, 1, 2, 1]);
    const c = r.counter({ name: 'zc_total', help: 'Z.', labelNames: ['a'], striped: true });
    c.inc({ a: 'x' }, 9);
    c.zero({ a: 'x' });
    c.inc({ a: 'x' });
    expect(values(r, 'zc_total')).toEqual(new Map([[k({ a: 'x' }), 1n]]));
  });

  it('registry.resetMetrics() resets every metric any object defined, and keeps the package families', async () => {
    const r = StatsRegistry.create({ backend });
    const other = StatsRegistry.attach(r.handle, { backend });
    const set = r.counters('jobs', ['done']);
    set.counter('done').add(3);
    const c = other.counter({ name: 'a_total', help: 'A.', labelNames: ['x'] });
    const g = r.gauge({ name: 'b', help: 'B.' });
    c.inc({ x: '1' });
    g.set(4);
    r.resetMetrics();
    expect((await c.get()).values).toEqual([]);
    expect((await g.get()).values).toEqual([{ labels: {}, value: 0 }]);
    expect(set.counter('done').value()).toBe(3);
  });

  it("prom-client's register.resetMetrics() resets the families of user metrics; a package family's reset() throws", async () => {
    const r = StatsRegistry.create({ backend });
    const c = r.counter({ name: 'p_total', help: 'P.', labelNames: ['x'] });
    r.counters('jobs', ['done']).counter('done').add(3);
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    // Defined after registration, before any scrape: resetMetrics still reaches it.
    const late = r.gauge({ name: 'late', help: 'L.' });
    c.inc({ x: '1' });
    late.set(5);
    prom.resetMetrics();
    expect((await c.get()).values).toEqual([]);
    expect((await late.get()).values).toEqual([{ labels: {}, value: 0 }]);
    const text = await prom.metrics();
    expect(text).toContain('atomic_stats_set_jobs_total{set="jobs",field="done"} 3');
    const own = prom.getSingleMetric('atomic_stats_set_jobs_total')!;
    expect(() => own.reset()).toThrow(NotResettableError);
  });
});
