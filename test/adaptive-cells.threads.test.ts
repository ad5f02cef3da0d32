// Contention-adaptive series (src/kinds/adaptive-cells.ts) under real threads: totals stay
// exact while series inflate, on every mix of backends; a reader never sees a total go
// backwards while they do; a thread terminated at any instant, inflating or writing its
// stripe, loses no count, and every stripe block allocated is either published in its
// series or back on its family's free list.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type BackendKind, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const N = 200_000; // increments of 1 per thread and series (plus one inc(3) per 1,000)
const SERIES = ['a', 'b'];

function open(registry: StatsRegistry) {
  return {
    ints: registry.counter({ name: 'adaptive_ints_total', help: 'h', labelNames: ['s'] }),
    floats: registry.counter({ name: 'adaptive_floats_total', help: 'h', labelNames: ['s'], float: true }),
    hist: registry.histogram({ name: 'adaptive_seconds', help: 'h', labelNames: ['s'], buckets: [0.25, 0.5, 1] }),
  };
}

/** Starts workers (each with its own backend), releases them together, and resolves with their reports. */
async function run(registry: StatsRegistry, plan: { backend: BackendKind; data: Record<string, unknown> }[], stderr?: string[]): Promise<Record<string, unknown>[]> {
  const start = new SharedArrayBuffer(4);
  const workers = plan.map(
    (p, index) =>
      new Worker(new URL('./workers/adaptive-worker.mjs', import.meta.url), {
        workerData: { handle: registry.handle, backend: p.backend, start, index, ...p.data },
        stderr: stderr !== undefined,
      }),
  );
  if (stderr !== undefined) for (const w of workers) w.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
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

function expectBlocksAccounted(registry: StatsRegistry, metrics: { stripeBlocks(): { published: number; free: number; blockBytes: number } | undefined }[]): void {
  let bytes = 0;
  for (const m of metrics) {
    const b = m.stripeBlocks()!;
    bytes += (b.published + b.free) * b.blockBytes;
  }
  expect(registry.usage().inflatedBytes).toBe(bytes);
}

describe('series that inflate under contention', () => {
  const mixes: [string, BackendKind[]][] = [
    ['2 threads, wasm + js', ['wasm', 'js']],
    ['4 threads, auto, wasm, js, auto', ['auto', 'wasm', 'js', 'auto']],
    ['8 threads, every backend', ['auto', 'wasm', 'js', 'auto', 'wasm', 'js', 'auto', 'js']],
  ];
  it.each(mixes)('%s: every count exact, every series inflated, every block accounted', async (_, backends) => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 16, capacityBytes: 8 << 20 });
    const m = open(registry);
    const stop = new SharedArrayBuffer(4);
    const barrier = new SharedArrayBuffer(4);
    const writing = new SharedArrayBuffer(4);
    const reports = run(registry, [
      ...backends.map((backend) => ({ backend, data: { mode: 'write', series: SERIES, n: N, barrier, writers: backends.length, done: writing } })),
      { backend: 'auto' as BackendKind, data: { mode: 'read', stop } },
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
    // Rounds of 1,003 increments, 250 float incs and 250 observations on each series, per writer.
    const R = all.slice(0, backends.length).reduce((sum, r) => sum + (r.rounds as number), 0);
    expect(R).toBeGreaterThanOrEqual(backends.length * (N / 1000));
    for (const s of SERIES) {
      expect((await m.ints.get()).values.find((v) => v.labels.s === s)?.value).toBe(R * 1003);
      expect((await m.floats.get()).values.find((v) => v.labels.s === s)?.value).toBe(R * 250 * 0.25);
      const h = (await m.hist.get()).values.filter((v) => v.labels.s === s);
      expect(h.find((v) => v.metricName === 'adaptive_seconds_count')?.value).toBe(R * 250);
      expect(h.find((v) => v.metricName === 'adaptive_seconds_sum')?.value).toBe(R * 125 * (0.25 + 0.75));
      expect(h.find((v) => v.metricName === 'adaptive_seconds_bucket' && v.labels.le === 0.25)?.value).toBe(R * 125);
    }
    // The threads did contend, or this proved nothing: the hammered series inflated.
    expect(m.ints.stripeBlocks()!.published).toBeGreaterThan(0);
    expect(registry.usage().inflatedBytes).toBeGreaterThan(0);
    expectBlocksAccounted(registry, [m.ints, m.floats, m.hist]);
  });
});

describe.each(BACKENDS)('threads terminated while a series inflates (%s)', (backend) => {
  it('lose no count, and leave every block published or free', async () => {
    const ROUNDS = 12;
    const PER_ROUND = 3;
    const registry = StatsRegistry.create({ backend, stripes: 8, capacityBytes: 8 << 20 });
    const m = open(registry);
    const progress = new Int32Array(new SharedArrayBuffer(4 * PER_ROUND));
    let recorded = 0;
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      progress.fill(0);
      const series = [`r${round}`];
      const workers = Array.from(
        { length: PER_ROUND },
        (_, index) =>
          new Worker(new URL('./workers/adaptive-worker.mjs', import.meta.url), {
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
      for (let i = 0; i < PER_ROUND; i++) recorded += Atomics.load(progress, i);
      killed += PER_ROUND;
    }
    const ints = (await m.ints.get()).values.reduce((s, v) => s + v.value, 0);
    const count = (await m.hist.get()).values.filter((v) => v.metricName === 'adaptive_seconds_count').reduce((s, v) => s + v.value, 0);
    // Each terminated writer wrote at most one more than it recorded.
    expect(ints).toBeGreaterThanOrEqual(recorded);
    expect(ints).toBeLessThanOrEqual(recorded + killed);
    expect(count).toBeGreaterThanOrEqual(recorded);
    expect(count).toBeLessThanOrEqual(recorded + killed);
    expectBlocksAccounted(registry, [m.ints, m.floats, m.hist]);
    // The stripes of the terminated threads came back (their creator saw them exit), so the next rounds' writers wrote the same blocks.
    expect(registry.usage().slotsInUse).toBe(1);
  });
});

describe('a registry with no room for a block', () => {
  it('keeps the contended series exact on its shared cells, and counts the refusal once', async () => {
    const registry = StatsRegistry.create({ backend: 'auto', stripes: 8, capacityBytes: 1 << 16 });
    const m = open(registry);
    for (const s of SERIES) {
      m.ints.labels(s);
      m.floats.labels(s);
      m.hist.labels(s);
    }
    // Fill what is left with series of a gauge (256 bytes each), until not even one more fits.
    const filler = registry.gauge({ name: 'filler', help: 'h', labelNames: ['i'], maxSeries: 1000 });
    for (let i = 0; ; i++) {
      try {
        filler.labels(String(i)).set(1);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ERR_REGISTRY_FULL');
        break;
      }
    }
    const before = registry.usage();
    expect(before.capacityBytes - before.usedBytes).toBeLessThan(m.ints.stripeBlocks()!.blockBytes);
    const barrier = new SharedArrayBuffer(4);
    const stderr: string[] = [];
    const reports = await run(
      registry,
      [
        { backend: 'wasm', data: { mode: 'write', series: SERIES, n: N, barrier, writers: 2, until: 'refused' } },
        { backend: 'js', data: { mode: 'write', series: SERIES, n: N, barrier, writers: 2, until: 'refused' } },
      ],
      stderr,
    );
    const R = reports.reduce((sum, r) => sum + (r.rounds as number), 0);
    for (const s of SERIES) expect((await m.ints.get()).values.find((v) => v.labels.s === s)?.value).toBe(R * 1003);
    for (const s of SERIES) expect((await m.floats.get()).values.find((v) => v.labels.s === s)?.value).toBe(R * 250 * 0.25);
    const after = registry.usage();
    expect(after.usedBytes).toBe(before.usedBytes);
    expect(after.inflatedBytes).toBe(0);
    // Each contended series was refused once (by the first thread that tried), whichever thread it was.
    expect(after.inflationsRefused).toBeGreaterThan(0);
    expect(after.inflationsRefused).toBeLessThanOrEqual(SERIES.length * 3);
    // Said once for the registry, by the thread whose refusal was the first, never thrown.
    const said = reports.flatMap((r) => r.warnings as string[]);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^ERR_REGISTRY_FULL: atomic-stats: contended series stay on their shared cells .* a series of "adaptive_\w+"/);
  });
});
