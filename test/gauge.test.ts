import { Gauge as PromGauge, Registry as PromRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InvalidLabelsError, InvalidOptionsError, InvalidValueError, NameConflictError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { expectRejected, userFamilies } from './helpers/metrics.js';

describe.each(BACKENDS)('gauge metric (%s backend)', (backend) => {
  it("set is a store, inc/dec add; get() has prom-client's shape and values", async () => {
    const r = StatsRegistry.create({ backend });
    const prom = new PromGauge({ name: 'pool_size', help: 'Pool.', labelNames: ['pool'], registers: [new PromRegistry()] });
    const g = r.gauge({ name: 'pool_size', help: 'Pool.', labelNames: ['pool'] });
    for (const x of [g, prom] as const) {
      x.set({ pool: 'a' }, 10);
      x.inc({ pool: 'a' });
      x.inc({ pool: 'a' }, 2.5);
      x.dec({ pool: 'a' }, 0.25);
      x.labels('b').set(-3);
      x.labels({ pool: 'b' }).dec();
      x.labels('b').inc(0.5);
    }
    const ours = await g.get();
    const theirs = await prom.get();
    expect(ours.values.sort((p, q) => String(p.labels.pool).localeCompare(String(q.labels.pool)))).toEqual(theirs.values);
    expect({ ...ours, values: [] }).toEqual({ ...theirs, values: [] });
    expect(userFamilies(r).get('pool_size')!.samples).toEqual(expect.arrayContaining([{ labels: { pool: 'a' }, value: 13.25 }, { labels: { pool: 'b' }, value: -3.5 }]));
  });

  it('an unlabelled gauge: set(v), inc(), dec(n), setToCurrentTime, startTimer', async () => {
    const r = StatsRegistry.create({ backend });
    const g = r.gauge({ name: 'temperature', help: 'T.' });
    g.set(20);
    g.inc();
    g.dec(0.5);
    expect((await g.get()).values).toEqual([{ labels: {}, value: 20.5 }]);
    const before = Date.now() / 1000;
    g.setToCurrentTime();
    const now = (await g.get()).values[0]!.value;
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now() / 1000);
    const end = g.startTimer();
    const s = end();
    expect(s).toBeGreaterThanOrEqual(0);
    expect((await g.get()).values[0]!.value).toBe(s);
    const end2 = g.labels().startTimer();
    expect((await g.get()).values[0]!.value).toBe(s); // nothing set until end() runs
    expect(end2()).toBe((await g.get()).values[0]!.value);
  });

  it('a labelled startTimer sets the series of its labels merged with the end labels', async () => {
    const r = StatsRegistry.create({ backend });
    const g = r.gauge({ name: 'last_run_seconds', help: 'Last run.', labelNames: ['job', 'outcome'] });
    const s = g.startTimer({ job: 'sync' })({ outcome: 'ok' });
    expect((await g.get()).values).toEqual([{ labels: { job: 'sync', outcome: 'ok' }, value: s }]);
    expect(userFamilies(r).get('last_run_seconds')!.unit).toBe('s');
  });

  it('every thread view of one gauge shares the cell; JS and Wasm attachments interoperate', async () => {
    const r = StatsRegistry.create({ backend });
    const other = StatsRegistry.attach(r.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
    const def = { name: 'queue_depth', help: 'Depth.' };
    r.gauge(def).inc(5);
    other.gauge(def).dec(2);
    other.gauge(def).inc(0.125);
    expect((await r.gauge(def).get()).values[0]!.value).toBe(3.125);
    other.gauge(def).set(-0.5);
    expect((await r.gauge(def).get()).values[0]!.value).toBe(-0.5);
  });

  it('refuses values that are not finite numbers and bad labels, changing nothing', () => {
    const r = StatsRegistry.create({ backend });
    const g = r.gauge({ name: 'g', help: 'G.', labelNames: ['a'] });
    g.set({ a: 'x' }, 1);
    for (const bad of [NaN, Infinity, -Infinity, '1', 1n, null, {}]) {
      expectRejected(r, () => g.set({ a: 'x' }, bad as never), InvalidValueError);
      expectRejected(r, () => g.labels('x').inc(bad as never), InvalidValueError);
      expectRejected(r, () => g.dec({ a: 'x' }, bad as never), InvalidValueError);
    }
    expectRejected(r, () => g.set(5), InvalidLabelsError);
    expectRejected(r, () => g.inc(), InvalidLabelsError);
    // @ts-expect-error a label name the gauge does not have (the literal label names type its labels)
    expectRejected(r, () => g.set({ b: 'x' }, 1), InvalidLabelsError);
    expectRejected(r, () => g.set(1 as never, 2), InvalidLabelsError);
    expectRejected(r, () => r.gauge({ name: 'g2', help: 'G.', striped: true } as never), InvalidOptionsError);
    expectRejected(r, () => r.gauge({ name: 'g', help: 'Other help.', labelNames: ['a'] }), NameConflictError);
  });
});

describe('the JS and Wasm twins of the metric cells', () => {
  it('write the same bytes for the same operations (every metric kind, owned and shared stripes)', () => {
    const run = (backend: 'wasm' | 'js') => {
      const r = StatsRegistry.create({ backend, stripes: 2, capacityBytes: 65536 });
      const second = StatsRegistry.attach(r.handle, { backend }); // slot 1: owns stripe 1
      const third = StatsRegistry.attach(r.handle, { backend }); // slot 2: the shared stripe
      for (const x of [r, second, third]) {
        const c = x.counter({ name: 'c_total', help: 'C.', labelNames: ['k'], striped: true });
        c.inc({ k: 'a' }, 2 ** 24 + 5); // carries into the owned high word
        c.labels('b').inc(2 ** 31); // past the owned-add limit: the shared cell
        const f = x.counter({ name: 'f_total', help: 'F.', float: true, striped: true });
        f.inc(0.1);
        f.inc(1e-3);
        const g = x.gauge({ name: 'g', help: 'G.', labelNames: ['k'] });
        g.set({ k: 'a' }, 1 / 3);
        g.inc({ k: 'a' }, 0.7);
        g.dec({ k: 'b' }, 1e300);
        for (const striped of [false, true]) {
          const h = x.histogram({ name: `h${striped ? 's' : ''}_seconds`, help: 'H.', labelNames: ['k'], striped });
          for (const v of [0.001, 0.1, 0.3, 7, 1e6, -2]) h.observe({ k: 'a' }, v);
        }
      }
      return Buffer.from(new Uint8Array(r.handle.memory.buffer).slice());
    };
    const wasm = run('wasm');
    const js = run('js');
    expect(wasm.equals(js)).toBe(true);
    expect(wasm.some((b) => b !== 0)).toBe(true);
  });
});
