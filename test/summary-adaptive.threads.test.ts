// A summary's contention-adaptive series (src/kinds/summary.ts "Contention") under real
// threads: count, sum and the window's bucket counts stay exact while series inflate, on
// every mix of backends; a reader never sees one go backwards while they do; a thread
// terminated at any instant, inflating, writing its stripe or emptying a cache, loses no
// observation, and every block allocated is published in its series or on the free list.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type BackendKind, StatsRegistry, type SummaryMetric } from '../src/index.js';
import { summaryBucket } from '../src/kinds/summary.js';
import { BACKENDS } from './helpers/backends.js';

const ROUNDS = 200; // at least, per writer: 250 observations of each summary and series a round
const SERIES = ['a', 'b'];
const value = (k: number) => (k % 5 < 2 ? 0.25 : k % 5 < 4 ? 0.75 : 1);

function open(registry: StatsRegistry) {
  return {
    plain: registry.summary({ name: 'sa_plain_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5] }),
    windowed: registry.summary({ name: 'sa_window_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5], maxAgeSeconds: 0.05, ageBuckets: 5 }),
    fixed: registry.summary({ name: 'sa_fixed_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5], striped: false }),
  };
}

/** Starts workers (each with its own backend), releases them together, and resolves with their reports. */
async function run(registry: StatsRegistry, plan: { backend: BackendKind; data: Record<string, unknown> }[]): Promise<Record<string, unknown>[]> {
  const start = new SharedArrayBuffer(4);
  const workers = plan.map(
    (p, index) =>
      new Worker(new URL('./workers/summary-adaptive-worker.mjs', import.meta.url), {
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

async function totals(m: SummaryMetric, s: string): Promise<{ count: number; sum: number }> {
  const v = (await m.get()).values.filter((x) => x.labels.s === s);
  return { count: v.find((x) => x.metricName?.endsWith('_count'))!.value, sum: v.find((x) => x.metricName?.endsWith('_sum'))!.value };
}

function expectBlocksAccounted(registry: StatsRegistry, metrics: SummaryMetric[]): void {
  let bytes = 0;
  for (const m of metrics) {
    const b = m.stripeBlocks()!;
    bytes += (b.published + b.free) * b.blockBytes;
  }
  expect(registry.usage().inflatedBytes).toBe(bytes);
}

describe('summary series that inflate under contention', () => {
  const mixes: [string, BackendKind[]][] = [
    ['2 threads, wasm + js', ['wasm', 'js']],
    ['4 threads, auto, wasm, js, auto', ['auto', 'wasm', 'js', 'auto']],
    ['8 threads, every backend', ['auto', 'wasm', 'js', 'auto', 'wasm', 'js', 'auto', 'js']],
  ];
  it.each(mixes)('%s: count, sum and bucket counts exact, every adaptive series inflated, never backwards', async (_, backends) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 16, capacityBytes: 8 << 20 });
    const m = open(registry);
    const stop = new SharedArrayBuffer(4);
    const barrier = new SharedArrayBuffer(4);
    const writing = new SharedArrayBuffer(4);
    const reports = run(registry, [
      ...backends.map((backend) => ({ backend, data: { mode: 'write', series: SERIES, rounds: ROUNDS, barrier, writers: backends.length, done: writing } })),
      { backend: 'auto' as BackendKind, data: { mode: 'read', series: SERIES, stop } },
    ]);
    // The reader is told to stop once every writer has reported.
    const writersDone = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (Atomics.load(new Int32Array(writing), 0) === backends.length) {
          clearInterval(poll);
          Atomics.store(new Int32Array(stop), 0, 1);
          resolve();
        }
      }, 10);
    });
    const all = await reports;
    await writersDone;
    const reader = all[all.length - 1] as { reads: number; backwards: unknown[] };
    expect(reader.backwards).toEqual([]);
    expect(reader.reads).toBeGreaterThan(1);
    const R = all.slice(0, backends.length).reduce((sum, r) => sum + (r.rounds as number), 0);
    expect(R).toBeGreaterThanOrEqual(backends.length * ROUNDS);
    for (const s of SERIES) {
      for (const x of [m.plain, m.windowed, m.fixed]) expect(await totals(x, s)).toEqual({ count: R * 250, sum: R * 150 });
      // Every observation in exactly one word, a shared slice's or a stripe's cache entry.
      const want = [
        [summaryBucket(0.25), R * 100],
        [summaryBucket(0.75), R * 100],
        [summaryBucket(1), R * 50],
      ];
      expect(m.plain.windowCounts({ s })).toEqual(want);
      expect(m.fixed.windowCounts({ s })).toEqual(want);
    }
    // The threads did contend, or this proved nothing: the hammered adaptive series inflated.
    expect(m.plain.stripeBlocks()!.published).toBe(SERIES.length);
    expect(m.windowed.stripeBlocks()!.published).toBe(SERIES.length);
    expectBlocksAccounted(registry, [m.plain, m.windowed]);
    // striped: false never inflates: its series' words stay 0, and its shared slice holds
    // every count; the inflated series' stripes took some in their caches.
    const i32 = new Int32Array(registry.handle.memory.buffer);
    const shared = (at: number) => [0.25, 0.75, 1].reduce((t, v) => t + (i32[((at + 24) >>> 2) + 2 + summaryBucket(v)]! >>> 0), 0);
    for (const c of m.fixed.seriesCells()) {
      expect(i32[(c.dataOffset + 16) >>> 2]).toBe(0);
      expect(shared(c.dataOffset)).toBe(R * 250);
    }
    for (const c of m.plain.seriesCells()) expect(shared(c.dataOffset)).toBeLessThan(R * 250);
  });
});

describe.each(BACKENDS)('threads terminated while a summary series inflates (%s)', (backend) => {
  it('lose no observation, and leave every block published or free', async () => {
    const ROUNDS_KILLED = 12;
    const PER_ROUND = 3;
    const registry = StatsRegistry.create({ backend, stripes: 8, capacityBytes: 8 << 20 });
    const m = open(registry);
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let recorded = 0;
    let killed = 0;
    let sumLow = 0;
    let sumHigh = 0;
    const sumTo = (n: number) => {
      let t = 0;
      for (let k = 1; k <= n; k++) t += value(k);
      return t;
    };
    for (let round = 0; round < ROUNDS_KILLED; round++) {
      progress.fill(0);
      const series = [`r${round}`];
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/summary-adaptive-worker.mjs', import.meta.url), {
            workerData: { handle: registry.handle, backend, mode: 'killable', series, progress: progress.buffer, index },
          }),
      );
      const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      // Terminated early (the first writes, where the series inflates) or later, a different point each time.
      for (let i = 0; i < PER_ROUND; i++) {
        const target = round % 3 === 0 ? 1 : 1 + Math.floor(Math.random() * 3000);
        while (Atomics.load(progress, i) < target) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(workers.map((w) => w.terminate()));
      await Promise.all(exited);
      for (let i = 0; i < PER_ROUND; i++) {
        const p = Atomics.load(progress, i);
        recorded += p;
        sumLow += sumTo(p);
        sumHigh += sumTo(p + 1);
      }
      killed += PER_ROUND;
    }
    for (const x of [m.plain, m.windowed]) {
      const v = (await x.get()).values;
      const count = v.filter((y) => y.metricName?.endsWith('_count')).reduce((s, y) => s + y.value, 0);
      const sum = v.filter((y) => y.metricName?.endsWith('_sum')).reduce((s, y) => s + y.value, 0);
      // Each terminated writer wrote at most one more than it recorded.
      expect(count).toBeGreaterThanOrEqual(recorded);
      expect(count).toBeLessThanOrEqual(recorded + killed);
      expect(sum).toBeGreaterThanOrEqual(sumLow);
      expect(sum).toBeLessThanOrEqual(sumHigh);
    }
    // The window of the summary without one holds every observation too, in one word each.
    let inWindow = 0;
    for (let round = 0; round < ROUNDS_KILLED; round++) for (const [, c] of m.plain.windowCounts({ s: `r${round}` }) ?? []) inWindow += c;
    expect(inWindow).toBeGreaterThanOrEqual(recorded);
    expect(inWindow).toBeLessThanOrEqual(recorded + killed);
    expectBlocksAccounted(registry, [m.plain, m.windowed]);
    expect(m.plain.stripeBlocks()!.published).toBeGreaterThan(0);
    // The stripes of the terminated threads came back (their creator saw them exit).
    expect(registry.usage().slotsInUse).toBe(1);
  });
});
