// A summary's contention-adaptive series (src/kinds/summary.ts "Contention"), in one
// thread: the `striped` option, a series' count and sum moving to a stripe once its
// inflation word is set, the stripe's slice caches and what a read merges of them,
// reset() with stripes and caches written, a removed series' block reused, a registry
// with no room for a block, and shared memory that names no block or no bucket.
// Contention itself needs two threads: summary-adaptive.threads.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, NameConflictError, StatsRegistry, type SummaryMetric } from '../src/index.js';
import type { AdaptiveCells } from '../src/kinds/adaptive-cells.js';
import { summaryBucket } from '../src/kinds/summary.js';
import { BACKENDS } from './helpers/backends.js';
import { i32Of } from './helpers/memory.js';
import { expectRejected } from './helpers/metrics.js';
import { captureWarnings } from './helpers/warnings.js';

const adaptiveOf = (m: object): AdaptiveCells => (m as unknown as { spec: { adaptive: AdaptiveCells } }).spec.adaptive;
const cellsOf = (m: SummaryMetric, s: string): number => m.seriesCells().find((c) => c.labels.s === s)!.dataOffset;
const u64At = (r: StatsRegistry, at: number): bigint => new BigUint64Array(r.handle.memory.buffer)[at >>> 3]!;
// The shared slice k's count of bucket b (the header: slices from +24, 4,112 bytes each, counts after 8 bytes).
const sliceWord = (r: StatsRegistry, at: number, b: number, k = 0): number => i32Of(r)[((at + 24 + k * 4112) >>> 2) + 2 + b]! >>> 0;

async function read(s: SummaryMetric, labels: Record<string, string> = { s: 'a' }) {
  const v = (await s.get()).values.filter((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return {
    count: v.find((x) => x.metricName?.endsWith('_count'))!.value,
    sum: v.find((x) => x.metricName?.endsWith('_sum'))!.value,
    quantiles: v.filter((x) => x.metricName === undefined).map((x) => x.value),
  };
}

/** A summary whose series 'a' has a block, and this thread's child of it on its stripe (it learned of the block at its second write). */
function inflated(backend: (typeof BACKENDS)[number], extra: Record<string, unknown> = {}, stripes = 4) {
  const r = StatsRegistry.create({ backend, stripes });
  const s = r.summary({ name: 'a_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5, 1], ...extra });
  const child = s.labels('a');
  child.observe(1);
  const at = cellsOf(s, 'a');
  const a = adaptiveOf(s);
  const block = a.inflate(at);
  child.observe(2); // on the base cells: this write learns of the block
  return { r, s, child, at, a, block };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the striped option of a summary', () => {
  it("is 'adaptive' when omitted or 'adaptive', false when false", () => {
    const r = StatsRegistry.create();
    expect(r.summary({ name: 'a_seconds', help: 'h' }).striped).toBe('adaptive');
    expect(r.summary({ name: 'b_seconds', help: 'h', striped: 'adaptive' }).striped).toBe('adaptive');
    expect(r.summary({ name: 'c_seconds', help: 'h', striped: false }).striped).toBe(false);
    expect(r.summary({ name: 'c_seconds', help: 'h', striped: false }).striped).toBe(false);
  });

  it('is part of the definition: omitted and false are a conflict, omitted and "adaptive" the same metric', () => {
    const r = StatsRegistry.create();
    const s = r.summary({ name: 'x_seconds', help: 'h', labelNames: ['s'] });
    s.labels('a').observe(1);
    expectRejected(r, () => r.summary({ name: 'x_seconds', help: 'h', labelNames: ['s'], striped: false }), NameConflictError);
    expect(r.summary({ name: 'x_seconds', help: 'h', labelNames: ['s'], striped: 'adaptive' })).toBe(s);
  });

  it.each([[true], ['yes'], [1], [null], [{}]])('refuses %j with a typed error naming the option, and changes nothing', (bad) => {
    const r = StatsRegistry.create();
    r.summary({ name: 'ok_seconds', help: 'h' }).observe(1);
    const e = expectRejected(r, () => r.summary({ name: 'y_seconds', help: 'h', striped: bad as never }), InvalidOptionsError);
    expect(e.message).toMatch(/striped.*false or "adaptive"/);
  });

  it('striped: false has no blocks: nothing to inflate, nothing in usage()', () => {
    const r = StatsRegistry.create({ stripes: 4 });
    const s = r.summary({ name: 'f_seconds', help: 'h', labelNames: ['s'], striped: false });
    s.labels('a').observe(1);
    expect(s.stripeBlocks()).toBeUndefined();
    expect(r.usage().inflatedBytes).toBe(0);
  });
});

describe.each(BACKENDS)('an adaptive summary series (%s)', (backend) => {
  it('inflates once: a block of stripes with a 104-byte cache per slice, counted in usage()', () => {
    for (const [extra, stride] of [
      [{}, 128], // 24 bytes of count and sum + 104: one 128-byte block a stripe
      [{ maxAgeSeconds: 10, ageBuckets: 5 }, 640], // 24 + 5 x 104 = 544, up to 640
    ] as const) {
      const r = StatsRegistry.create({ backend, stripes: 4 });
      const s = r.summary({ name: 'a_seconds', help: 'h', labelNames: ['s'], ...extra });
      s.labels('a').observe(1);
      const used = r.usage().usedBytes;
      const b = adaptiveOf(s).inflate(cellsOf(s, 'a'));
      expect(b).toBeGreaterThan(0);
      expect(adaptiveOf(s).inflate(cellsOf(s, 'a'))).toBe(b);
      expect(s.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 4 * stride });
      expect(r.usage().inflatedBytes).toBe(4 * stride);
      expect(r.usage().usedBytes).toBe(used + 4 * stride);
    }
  });

  it("a child learns of the block at its next write, then writes its stripe's count and sum and its cache", async () => {
    const { r, s, child, at } = inflated(backend);
    for (let i = 0; i < 10; i++) child.observe(4);
    // The base cells kept the two writes before the move; the stripe took the rest.
    expect(u64At(r, at)).toBe(2n);
    expect(await read(s)).toMatchObject({ count: 12, sum: 43 });
    // The ten 4s are in the cache, not in the shared slice; a read merges both.
    expect(sliceWord(r, at, summaryBucket(4))).toBe(0);
    expect(sliceWord(r, at, summaryBucket(1))).toBe(1);
    expect(s.windowCounts({ s: 'a' })).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 1],
      [summaryBucket(4), 10],
    ]);
    for (const q of (await read(s)).quantiles) expect(Math.abs(q - 4) / 4).toBeLessThan(0.05);
  });

  it('a bucket whose cache entry another bucket holds goes to the shared slice; a read merges both', async () => {
    const { r, s, child, at } = inflated(backend);
    // 4 and 16 are two powers of two apart: 16 buckets, one entry of the cache.
    expect(summaryBucket(16) - summaryBucket(4)).toBe(16);
    child.observe(4);
    for (let i = 0; i < 3; i++) child.observe(16);
    expect(sliceWord(r, at, summaryBucket(16))).toBe(3);
    expect(sliceWord(r, at, summaryBucket(4))).toBe(0);
    expect(s.windowCounts({ s: 'a' })).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 1],
      [summaryBucket(4), 1],
      [summaryBucket(16), 3],
    ]);
    expect((await read(s)).count).toBe(6);
  });

  it('reset() zeroes the count, sum and percentiles with stripes and caches written, and the series counts on', async () => {
    const { s, child, block, a, at } = inflated(backend);
    for (let i = 0; i < 10; i++) child.observe(4);
    s.reset();
    expect(await read(s)).toEqual({ count: 0, sum: 0, quantiles: [0, 0] });
    expect(s.windowCounts({ s: 'a' })).toEqual([]);
    expect(a.block(at)).toBe(block);
    child.observe(8);
    child.observe(8);
    expect((await read(s)).count).toBe(2);
    expect((await read(s)).sum).toBe(16);
    expect(s.windowCounts({ s: 'a' })).toEqual([[summaryBucket(8), 2]]);
    s.reset();
    s.reset();
    expect(await read(s)).toEqual({ count: 0, sum: 0, quantiles: [0, 0] });
  });

  it('a sliding window: the caches leave the window with their period, and a new period starts them afresh', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const { s, child } = inflated(backend, { maxAgeSeconds: 10, ageBuckets: 5 });
    for (let i = 0; i < 5; i++) child.observe(4);
    vi.setSystemTime(1_000_000 + 2_000); // the next period, another slice and its cache
    for (let i = 0; i < 3; i++) child.observe(8);
    expect(s.windowCounts({ s: 'a' })).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 1],
      [summaryBucket(4), 5],
      [summaryBucket(8), 3],
    ]);
    vi.setSystemTime(1_000_000 + 10_000); // the first period left the window
    expect(s.windowCounts({ s: 'a' })).toEqual([[summaryBucket(8), 3]]);
    vi.setSystemTime(1_000_000 + 20_000); // every period left it
    expect(s.windowCounts({ s: 'a' })).toEqual([]);
    expect((await read(s)).quantiles).toEqual([0, 0]);
    // The slice (and its cache) of period 10 are those of period 0: emptied before reuse.
    child.observe(4);
    expect(s.windowCounts({ s: 'a' })).toEqual([[summaryBucket(4), 1]]);
    expect(await read(s)).toMatchObject({ count: 11, sum: 1 + 2 + 20 + 24 + 4 });
  });

  it("a removed series' block goes back to the free list, zeroed, caches included, and the next inflation reuses it", async () => {
    const { r, s, child, a, block } = inflated(backend);
    for (let i = 0; i < 10; i++) child.observe(4);
    s.remove('a');
    expect(s.stripeBlocks()).toEqual({ published: 0, free: 1, blockBytes: 4 * 128 });
    const b = s.labels('b');
    b.observe(4);
    expect(a.inflate(cellsOf(s, 'b'))).toBe(block);
    b.observe(4);
    b.observe(4);
    expect(s.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 4 * 128 });
    expect(r.usage().inflatedBytes).toBe(4 * 128);
    expect(await read(s, { s: 'b' })).toMatchObject({ count: 3, sum: 12 });
    expect(s.windowCounts({ s: 'b' })).toEqual([[summaryBucket(4), 3]]);
  });

  it('an unlabelled summary inflates too', async () => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const s = r.summary({ name: 'u_seconds', help: 'h', percentiles: [0.5] });
    s.observe(1);
    expect(adaptiveOf(s).inflate(s.seriesCells()[0]!.dataOffset)).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) s.observe(2);
    const v = (await s.get()).values;
    expect(v.find((x) => x.metricName === 'u_seconds_count')!.value).toBe(5);
    expect(v.find((x) => x.metricName === 'u_seconds_sum')!.value).toBe(9);
    expect(s.windowCounts()).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 4],
    ]);
  });

  it('with no room for a block the series stays on its shared cells, exact; refused once per series, said once', async () => {
    const warned = captureWarnings();
    // A capacity of its own per backend: the warning's key names the registry by its capacity and the series' word.
    const r = StatsRegistry.create({ backend, stripes: 8, capacityBytes: (2 + BACKENDS.indexOf(backend)) << 16 });
    const s = r.summary({ name: 'a_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5] });
    const children = ['a', 'b'].map((l) => s.labels(l));
    const filler = r.gauge({ name: 'filler', help: 'h', labelNames: ['i'], maxSeries: 4000 });
    for (let i = 0; ; i++) {
      try {
        filler.labels(String(i)).set(1);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ERR_REGISTRY_FULL');
        break;
      }
    }
    const used = r.usage().usedBytes;
    for (const l of ['a', 'b']) expect(adaptiveOf(s).inflate(cellsOf(s, l))).toBe(0);
    for (const c of children) for (let i = 0; i < 5; i++) c.observe(4);
    expect(r.usage()).toMatchObject({ usedBytes: used, inflatedBytes: 0, inflationsRefused: 2 });
    for (const l of ['a', 'b']) {
      expect(await read(s, { s: l })).toMatchObject({ count: 5, sum: 20 });
      expect(s.windowCounts({ s: l })).toEqual([[summaryBucket(4), 5]]);
    }
    expect(warned.codes()).toEqual(['ERR_REGISTRY_FULL']);
  });

  it.each([['not on a block boundary', 130], ['beyond the memory', 0x7fffff80], ['negative', -128]])('an inflation word %s reads as no block, and is never overwritten', async (_, word) => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const s = r.summary({ name: 'n_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5] });
    const child = s.labels('a');
    child.observe(4);
    const at = cellsOf(s, 'a');
    i32Of(r)[(at + 16) >>> 2] = word;
    expect(await read(s)).toMatchObject({ count: 1, sum: 4 });
    expect(adaptiveOf(s).inflate(at)).toBe(0);
    for (let i = 0; i < 3; i++) child.observe(4);
    expect(i32Of(r)[(at + 16) >>> 2]).toBe(word);
    expect(r.usage().inflatedBytes).toBe(0);
    expect(await read(s)).toMatchObject({ count: 4, sum: 16 });
    expect(s.windowCounts({ s: 'a' })).toEqual([[summaryBucket(4), 4]]);
  });

  it('a cache entry whose tag names no bucket is not read, and its bucket goes to the shared slice', async () => {
    const { r, s, child, block, at } = inflated(backend);
    child.observe(4);
    const stripes = [0, 1, 2, 3].filter((k) => i32Of(r)[(block + k * 128) >>> 2] !== 0);
    expect(stripes).toHaveLength(1); // this thread's stripe: its count's low word moved
    // Entry j of the stripe's cache (after 24 bytes of count and sum: epoch, generation, 16 u16 tags, 16 u32 counts).
    const cache = block + stripes[0]! * 128 + 24;
    const j = summaryBucket(4) & 15;
    const tags = new Uint16Array(r.handle.memory.buffer);
    expect(tags[((cache + 8) >>> 1) + j]).toBe(summaryBucket(4) + 1);
    tags[((cache + 8) >>> 1) + j] = 5000;
    expect(s.windowCounts({ s: 'a' })).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 1],
    ]);
    child.observe(4);
    expect(sliceWord(r, at, summaryBucket(4))).toBe(1);
    expect(s.windowCounts({ s: 'a' })).toEqual([
      [summaryBucket(1), 1],
      [summaryBucket(2), 1],
      [summaryBucket(4), 1],
    ]);
    expect((await read(s)).count).toBe(4);
  });
});
