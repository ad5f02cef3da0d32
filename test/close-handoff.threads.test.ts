// A registry object's close() (or [Symbol.dispose]()) hands its stripe back while the
// metric handles it gave out keep counting, exactly, on the shared stripe: checked with
// the next owner of that stripe writing the same series at the same time, on every
// backend. Before the rule applied to metrics, the old handles kept plain-storing the
// stripe the new owner also plain-stored, and both lost counts.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type HistogramValue, type MetricFamily, StatsRegistry } from '../src/index.js';
import { setGeometry } from '../src/layout.js';
import { BACKENDS } from './helpers/backends.js';
import { startFlag } from './helpers/workers.js';
import { userFamilies } from './helpers/metrics.js';

const SCRIPT = new URL('./workers/close-handoff.mjs', import.meta.url);
const OBSERVED = [0.125, 0.25, 0.375, 0.5, 0.75, 1, 1.5];
const BOUNDS = [0.25, 0.5, 1];
const BEFORE = ['/a', '/b', '/c'];
const AFTER = ['/a', '/b', '/c', 'late'];

/** A worker with its messages queued for `next()`. */
function start(workerData: Record<string, unknown>) {
  const worker = new Worker(SCRIPT, { workerData });
  const queue: unknown[] = [];
  const waiting: ((m: unknown) => void)[] = [];
  worker.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
  });
  failed.catch(() => {});
  return {
    worker,
    next<T>(): Promise<T> {
      const m = queue.shift();
      return Promise.race([m !== undefined ? Promise.resolve(m as T) : new Promise<T>((resolve) => waiting.push(resolve as (m: unknown) => void)), failed]);
    },
  };
}

interface Series {
  n: number;
  sum: number;
  buckets: number[];
}
const empty = (): Series => ({ n: 0, sum: 0, buckets: BOUNDS.map(() => 0).concat(0) });

/** What the worker's `work(n, routes)` records, per route and unlabelled, added to `into`. */
function model(n: number, routes: readonly string[], into: { routes: Map<string, Series>; plain: Series }) {
  for (let i = 0; i < n; i++) {
    const v = OBSERVED[i % OBSERVED.length]!;
    let b = 0;
    while (b < BOUNDS.length && v > BOUNDS[b]!) b++;
    const route = routes[i % routes.length]!;
    let s = into.routes.get(route);
    if (s === undefined) into.routes.set(route, (s = empty()));
    for (const t of [s, into.plain]) {
      t.n++;
      t.sum += v;
      t.buckets[b]!++;
    }
  }
}

const sampleOf = (f: MetricFamily | undefined, labels: Record<string, string>) =>
  f?.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;

function expectHistogram(h: HistogramValue, s: Series) {
  let cum = 0;
  expect(h.buckets.map((b) => [b.le, b.count])).toEqual([...BOUNDS, Infinity].map((le, i) => [le, BigInt((cum += s.buckets[i]!))]));
  expect(h.count).toBe(BigInt(s.n));
  expect(h.sum).toBe(s.sum);
}

describe.each(BACKENDS)('handles of a closed registry object, with the next owner of its stripe writing too (%s)', (backend) => {
  it.each([
    ['close()', false],
    ['[Symbol.dispose]()', true],
  ])('every labelled child, unlabelled series, float counter and histogram stays exact after %s', async (_, dispose) => {
    const registry = StatsRegistry.create({ stripes: 2, backend });
    expect(registry.slot).toBe(0);
    const before = 1000;
    const iterations = 150_000;
    const flag = startFlag();
    const old = start({ role: 'old', handle: registry.handle, backend, before, iterations, dispose, start: flag.sab });
    const closed = await old.next<{ slot: number; closedSlot: number; closed: boolean }>();
    expect(closed).toEqual({ slot: 1, closedSlot: -1, closed: true });
    // The next attachment takes the stripe the closed object handed back.
    const next = start({ role: 'new', handle: registry.handle, backend, iterations, start: flag.sab });
    expect(await next.next<{ slot: number }>()).toEqual({ slot: closed.slot });
    expect(await old.next()).toBe('ready');
    expect(await next.next()).toBe('ready');
    flag.release();
    expect(await old.next()).toEqual({ done: iterations });
    expect(await next.next()).toEqual({ done: iterations });

    const want = { routes: new Map<string, Series>(), plain: empty() };
    model(before, BEFORE, want);
    model(iterations, AFTER, want);
    model(iterations, AFTER, want);
    const total = before + 2 * iterations;
    const f = userFamilies(registry);
    expect(sampleOf(f.get('t_handoff_total'), {})).toBe(BigInt(total));
    expect(sampleOf(f.get('t_handoff_bytes_total'), {})).toBe(total * 0.5);
    expectHistogram(sampleOf(f.get('t_handoff_plain_seconds'), {}) as HistogramValue, want.plain);
    expect(want.routes.size).toBe(AFTER.length);
    for (const [route, s] of want.routes) {
      expect(sampleOf(f.get('t_handoff_requests_total'), { route }), route).toBe(BigInt(s.n));
      expectHistogram(sampleOf(f.get('t_handoff_latency_seconds'), { route }) as HistogramValue, s);
    }
    await Promise.all([old.worker.terminate(), next.worker.terminate()]);
  });
});

// ---- one thread: where the writes go -----------------------------------------------------

/** Every cell byte of stripe `stripe` of the t_solo_ entries, by record name. */
function stripeBytes(r: StatsRegistry, stripe: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const rec of r.checkedRecords()) {
    if (!rec.name.startsWith('t_solo_')) continue;
    const g = setGeometry(rec.name.startsWith('t_solo_latency') ? BOUNDS.length + 2 : 1, true, r.stripes);
    const put = (name: string, dataOffset: number) => {
      const at = dataOffset + g.sharedBlockBytes + stripe * g.stride;
      out.set(name, Buffer.from(r.views.u8.subarray(at, at + g.stride)).toString('hex'));
    };
    // A labelled family's own record holds its series table; its series' nodes hold the cells.
    if ((rec.descriptor.labelNames as string[]).length === 0) put(rec.name, rec.dataOffset);
    else {
      const def = { name: rec.name, ...rec.descriptor } as never;
      const m = rec.kindName === 'histogram' ? r.histogram(def) : r.counter(def);
      for (const s of m.seriesCells()) put(`${rec.name}${JSON.stringify(s.labels)}`, s.dataOffset);
    }
  }
  return out;
}

describe.each(BACKENDS)('handles of a closed registry object, in one thread (%s)', (backend) => {
  it('never write the stripe it handed back again, children made after the close included, and count every write', () => {
    const r = StatsRegistry.create({ stripes: 2, backend });
    const a = StatsRegistry.attach(r.handle, { backend });
    expect(a.slot).toBe(1);
    const requests = a.counter({ name: 't_solo_requests_total', help: 'R.', labelNames: ['route'], striped: true });
    const total = a.counter({ name: 't_solo_total', help: 'T.', striped: true });
    const bytes = a.counter({ name: 't_solo_bytes_total', help: 'B.', float: true, striped: true });
    const latency = a.histogram({ name: 't_solo_latency_seconds', help: 'L.', labelNames: ['route'], buckets: BOUNDS, striped: true });
    const child = requests.labels('/a');
    const lat = latency.labels('/a');
    const round = (route: string) => {
      child.inc();
      requests.inc({ route }, 2);
      total.inc(3);
      bytes.inc(0.25);
      lat.observe(0.5);
      latency.observe({ route }, 1.5);
    };
    round('/b');
    const owned = stripeBytes(r, 1);
    // Six cell blocks: /a and /b of each labelled family, and the two unlabelled families.
    expect(owned.size).toBe(6);
    for (const hex of owned.values()) expect(/[^0]/.test(hex)).toBe(true);
    a.close();
    round('/b');
    round('late'); // new series of the closed object's metrics
    const after = stripeBytes(r, 1);
    expect(after.size).toBe(8);
    for (const [name, hex] of after) expect(hex, name).toBe(owned.get(name) ?? '0'.repeat(hex.length));
    const f = userFamilies(r);
    expect(sampleOf(f.get('t_solo_requests_total'), { route: '/a' })).toBe(3n);
    expect(sampleOf(f.get('t_solo_requests_total'), { route: '/b' })).toBe(4n);
    expect(sampleOf(f.get('t_solo_requests_total'), { route: 'late' })).toBe(2n);
    expect(sampleOf(f.get('t_solo_total'), {})).toBe(9n);
    expect(sampleOf(f.get('t_solo_bytes_total'), {})).toBe(0.75);
    expect((sampleOf(f.get('t_solo_latency_seconds'), { route: '/a' }) as HistogramValue).count).toBe(3n);
    expect((sampleOf(f.get('t_solo_latency_seconds'), { route: '/a' }) as HistogramValue).sum).toBe(1.5);
    expect((sampleOf(f.get('t_solo_latency_seconds'), { route: 'late' }) as HistogramValue).sum).toBe(1.5);
  });
});
