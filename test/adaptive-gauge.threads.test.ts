// Contention-adaptive gauges (src/kinds/gauge.ts) under real threads: inc/dec totals stay
// exact while series inflate, on every mix of backends, and a series that only grows never
// reads lower meanwhile; a set after every adder finished, then more adds, ends exactly at
// the value set plus those adds (the stripes written before it were cleared); a set racing
// adds keeps every add that began after it ended and none that finished before it began;
// a thread terminated at any instant loses no add, and every stripe block allocated is
// either published in its series or back on its family's free list.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type BackendKind, type GaugeMetric, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const N = 100_000; // rounds of 1,000 incs (at least N / 1000 rounds per writer)
const SERIES = ['a', 'b'];

const open = (registry: StatsRegistry): GaugeMetric => registry.gauge({ name: 'adaptive_gauge', help: 'h', labelNames: ['s'] });
const valueOf = async (g: GaugeMetric, s: string): Promise<number | undefined> => (await g.get()).values.find((v) => v.labels.s === s)?.value;

/** Starts workers (each with its own backend), releases them together, and resolves with their reports. */
async function run(registry: StatsRegistry, plan: { backend: BackendKind; data: Record<string, unknown> }[]): Promise<Record<string, unknown>[]> {
  const start = new SharedArrayBuffer(4);
  const workers = plan.map(
    (p, index) =>
      new Worker(new URL('./workers/adaptive-gauge-worker.mjs', import.meta.url), {
        workerData: { handle: registry.handle, backend: p.backend, start, index, ...p.data },
      }),
  );
  const ready = workers.map((w) => new Promise<void>((resolve, reject) => (w.once('message', () => resolve()), w.once('error', reject))));
  await Promise.all(ready);
  const done = workers.map(
    (w) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  try {
    return await Promise.all(done);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function expectBlocksAccounted(registry: StatsRegistry, g: GaugeMetric): void {
  const b = g.stripeBlocks()!;
  expect(registry.usage().inflatedBytes).toBe((b.published + b.free) * b.blockBytes);
}

const MIXES: [string, BackendKind[]][] = [
  ['2 threads, wasm + js', ['wasm', 'js']],
  ['4 threads, auto, wasm, js, auto', ['auto', 'wasm', 'js', 'auto']],
  ['8 threads, every backend', ['auto', 'wasm', 'js', 'auto', 'wasm', 'js', 'auto', 'js']],
];

describe('gauge series that inflate under contention', () => {
  it.each(MIXES)('%s: inc/dec totals exact, every series inflated, a growing series never read lower', async (_, backends) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 16, capacityBytes: 8 << 20 });
    const g = open(registry);
    const stop = new SharedArrayBuffer(4);
    const writing = new SharedArrayBuffer(4);
    const barrier = new SharedArrayBuffer(12);
    const reports = run(registry, [
      ...backends.map((backend) => ({ backend, data: { mode: 'hammer', series: SERIES, n: N, barrier, writers: backends.length, done: writing } })),
      { backend: 'auto' as BackendKind, data: { mode: 'read', stop } },
    ]);
    const poll = setInterval(() => {
      if (Atomics.load(new Int32Array(writing), 0) === backends.length) Atomics.store(new Int32Array(stop), 0, 1);
    }, 10);
    let all: Record<string, unknown>[];
    try {
      all = await reports;
    } finally {
      clearInterval(poll);
    }
    const reader = all[all.length - 1] as { reads: number; backwards: unknown[] };
    expect(reader.backwards).toEqual([]);
    expect(reader.reads).toBeGreaterThan(1);
    const R = all.slice(0, backends.length).reduce((sum, r) => sum + (r.rounds as number), 0);
    expect(R).toBeGreaterThanOrEqual(backends.length * (N / 1000));
    // Per round and series: 1,000 incs of 1, 500 decs of 0.5, 250 incs of 0.25.
    for (const s of SERIES) expect(await valueOf(g, s)).toBe(R * 812.5);
    expect(await valueOf(g, 'up')).toBe(R * 500);
    // The threads did contend, or this proved nothing: the hammered series inflated.
    expect(g.stripeBlocks()!.published).toBeGreaterThan(0);
    expect(registry.usage().inflatedBytes).toBeGreaterThan(0);
    expectBlocksAccounted(registry, g);
  });
});

describe('a set on an inflated gauge series', () => {
  it.each(MIXES)('%s: set after every adder finished, then more adds: exactly the value set plus those adds', async (_, backends) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 16, capacityBytes: 8 << 20 });
    const g = open(registry);
    const barrier = new SharedArrayBuffer(12);
    const X = 123_456.75;
    const AFTER = 10_000;
    const reports = await run(
      registry,
      backends.map((backend) => ({ backend, data: { mode: 'phased', n: 20_000, barrier, writers: backends.length, x: X, after: AFTER } })),
    );
    // The set met a series with stripes that the adders before it had written.
    expect(reports[0]!.inflatedAtSet).toBe(true);
    expect(registry.usage().inflatedBytes).toBeGreaterThan(0);
    // Each writer, after the set: AFTER incs of 1 and AFTER decs of 0.5.
    expect(await valueOf(g, 'p')).toBe(X + backends.length * AFTER * 0.5);
  });

  it.each([
    ['3 adders (auto, wasm, js), a js setter', ['auto', 'wasm', 'js'], 'js'],
    ['2 adders (js, js), a wasm setter', ['js', 'js'], 'wasm'],
    ['5 adders (every backend), an auto setter', ['auto', 'wasm', 'js', 'wasm', 'js'], 'auto'],
  ] as [string, BackendKind[], BackendKind][])('%s, racing: every add begun after the set ended is kept, none finished before it began', async (_, adders, setter) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 16, capacityBytes: 8 << 20 });
    const g = open(registry);
    const SETS = 1000;
    const progress = new SharedArrayBuffer(4 * adders.length);
    const announced = new SharedArrayBuffer(4 * SETS);
    const stop = new SharedArrayBuffer(4);
    const reports = await run(registry, [
      ...adders.map((backend) => ({ backend, data: { mode: 'add', progress, stop } })),
      { backend: setter, data: { mode: 'set', progress, announced, stop, sets: SETS } },
      { backend: 'auto' as BackendKind, data: { mode: 'watch', progress, announced, stop } },
    ]);
    const { last, inflatedAtSet } = reports[adders.length] as { last: { x: number; p0: number; p1: number }; inflatedAtSet: boolean };
    expect(inflatedAtSet).toBe(true);
    // No read saw a set's value with stripes it had not cleared yet (the set clears the stripes before it stores the base).
    const watcher = reports[adders.length + 1] as { seen: number; over: unknown[] };
    expect(watcher.over).toEqual([]);
    expect(watcher.seen).toBeGreaterThan(0);
    const end = adders.reduce((sum, _, i) => sum + (reports[i]!.adds as number), 0);
    const kept = (await valueOf(g, 'race'))! - last.x;
    // Adds of 1: what survived the last set is a whole number of them, between the adds
    // begun after it ended (all but one in flight per adder of those not counted at p1)
    // and the adds not finished before it began (those not counted at p0).
    expect(Number.isInteger(kept)).toBe(true);
    expect(kept).toBeGreaterThanOrEqual(end - last.p1 - adders.length);
    expect(kept).toBeLessThanOrEqual(end - last.p0);
    expect(end - last.p1).toBeGreaterThanOrEqual(5000);
  });
});

describe.each(BACKENDS)('threads terminated while gauge series inflate (%s)', (backend) => {
  it('lose no add, and leave every block published or free', async () => {
    const ROUNDS = 12;
    const PER_ROUND = 3;
    const registry = StatsRegistry.create({ backend, stripes: 8, capacityBytes: 8 << 20 });
    const g = open(registry);
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let recorded = 0;
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/adaptive-gauge-worker.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, mode: 'killable', series: `r${round}`, progress: progress.buffer, index },
          }),
      );
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      // Terminated early (the first adds, where the series inflates) or later, a different point each time.
      for (let i = 0; i < PER_ROUND; i++) {
        const target = round % 3 === 0 ? 1 : 1 + Math.floor(Math.random() * 20_000);
        while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(workers.map((w) => w.terminate()));
      await Promise.all(exited);
      for (let i = 0; i < PER_ROUND; i++) recorded += Atomics.load(progress, i);
      killed += PER_ROUND;
    }
    const total = (await g.get()).values.reduce((s, v) => s + v.value, 0);
    // Each terminated writer added at most once more than it recorded.
    expect(total).toBeGreaterThanOrEqual(recorded);
    expect(total).toBeLessThanOrEqual(recorded + killed);
    expectBlocksAccounted(registry, g);
    // The stripes of the terminated threads came back (their creator saw them exit).
    expect(registry.usage().slotsInUse).toBe(1);
  });
});
