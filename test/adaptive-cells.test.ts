// Contention-adaptive series (src/kinds/adaptive-cells.ts), in one thread: the option and
// its signature, the states of a series' inflation word, what a read sums, the reuse of a
// removed series' block, and a word that names no block (corrupt memory) read as none.
// Contention itself needs two threads: adaptive-cells.threads.test.ts.
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, NameConflictError, StatsRegistry } from '../src/index.js';
import type { AdaptiveCells } from '../src/kinds/adaptive-cells.js';
import { BACKENDS } from './helpers/backends.js';
import { bytesOf, i32Of } from './helpers/memory.js';
import { captureWarnings } from './helpers/warnings.js';

const adaptiveOf = (m: object): AdaptiveCells => (m as unknown as { spec: { adaptive: AdaptiveCells } }).spec.adaptive;
const cellsOf = (m: { seriesCells(): { labels: Readonly<Record<string, string>>; dataOffset: number }[] }, s: string): number =>
  m.seriesCells().find((c) => c.labels.s === s)!.dataOffset;

describe('the striped option', () => {
  it("is 'adaptive' when omitted, for counters and histograms; true and false stay explicit", () => {
    const r = StatsRegistry.create();
    expect(r.counter({ name: 'a_total', help: 'h' }).striped).toBe('adaptive');
    expect(r.counter({ name: 'b_total', help: 'h', striped: 'adaptive' }).striped).toBe('adaptive');
    expect(r.counter({ name: 'c_total', help: 'h', striped: true }).striped).toBe(true);
    expect(r.counter({ name: 'd_total', help: 'h', striped: false }).striped).toBe(false);
    expect(r.histogram({ name: 'e_seconds', help: 'h' }).striped).toBe('adaptive');
    expect(r.histogram({ name: 'f_seconds', help: 'h', striped: false }).striped).toBe(false);
  });

  it('is part of the definition: omitted and false are two layouts, a conflict', () => {
    const r = StatsRegistry.create();
    r.counter({ name: 'x_total', help: 'h', labelNames: ['s'] });
    expect(() => r.counter({ name: 'x_total', help: 'h', labelNames: ['s'], striped: false })).toThrow(NameConflictError);
    expect(r.counter({ name: 'x_total', help: 'h', labelNames: ['s'], striped: 'adaptive' }).striped).toBe('adaptive');
  });

  it.each([['yes'], [1], [null], [{}]])('refuses %j with a typed error, and changes nothing', (bad) => {
    const r = StatsRegistry.create();
    const before = bytesOf(r);
    expect(() => r.counter({ name: 'y_total', help: 'h', striped: bad as never })).toThrow(InvalidOptionsError);
    expect(() => r.histogram({ name: 'y_seconds', help: 'h', striped: bad as never })).toThrow(/striped/);
    expect(bytesOf(r).equals(before)).toBe(true);
  });
});

describe.each(BACKENDS)('an adaptive series (%s)', (backend) => {
  it('inflates once: the block is published, idempotent, and counted in usage()', () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const c = r.counter({ name: 'n_total', help: 'h', labelNames: ['s'] });
    c.labels('a').inc(5);
    const a = adaptiveOf(c);
    const at = cellsOf(c, 'a');
    expect(a.block(at)).toBe(0);
    expect(c.stripeBlocks()).toEqual({ published: 0, free: 0, blockBytes: 4 * 128 });
    const used = r.usage().usedBytes;
    const b = a.inflate(at);
    expect(b).toBeGreaterThan(0);
    expect(a.inflate(at)).toBe(b);
    expect(a.block(at)).toBe(b);
    expect(r.usage().inflatedBytes).toBe(4 * 128);
    expect(r.usage().usedBytes).toBe(used + 4 * 128);
    expect(c.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 4 * 128 });
  });

  it("reads the base cell plus every stripe of the block, and zero() makes the total 0 with stripes written", async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const c = r.counter({ name: 'n_total', help: 'h', labelNames: ['s'] });
    c.labels('a').inc(5);
    const at = cellsOf(c, 'a');
    const b = adaptiveOf(c).inflate(at);
    // Stripes 1 and 3 hold 7 and 2 (a low word with tag 0; another thread's writes, as the owned-cell protocol lays them).
    const i32 = i32Of(r);
    i32[(b + 128) >>> 2] = 7;
    i32[(b + 3 * 128) >>> 2] = 2;
    expect((await c.get()).values[0]!.value).toBe(14);
    c.zero({ s: 'a' });
    expect((await c.get()).values[0]!.value).toBe(0);
    c.labels('a').inc();
    expect((await c.get()).values[0]!.value).toBe(1);
  });

  it('a histogram sums its stripes per bucket and its sum', async () => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const h = r.histogram({ name: 'h_seconds', help: 'h', labelNames: ['s'], buckets: [1, 2] });
    h.labels('a').observe(0.5);
    const at = cellsOf(h, 'a');
    const a = adaptiveOf(h);
    const b = a.inflate(at);
    const g = a.geometry;
    // Stripe 1: 3 observations in bucket le=2 (field 1), summing 4.5 (the high slot of field 3).
    i32Of(r)[(b + g.stride + 4) >>> 2] = 3;
    new Float64Array(r.handle.memory.buffer)[(b + g.stride + g.highOffset + 3 * 8) >>> 3] = 4.5;
    const v = (await h.get()).values;
    expect(v.find((x) => x.metricName === 'h_seconds_count')?.value).toBe(4);
    expect(v.find((x) => x.metricName === 'h_seconds_sum')?.value).toBe(5);
    expect(v.find((x) => x.metricName === 'h_seconds_bucket' && x.labels.le === 2)?.value).toBe(4);
    expect(v.find((x) => x.metricName === 'h_seconds_bucket' && x.labels.le === 1)?.value).toBe(1);
  });

  it("a removed series' block goes back to its family's free list, zeroed, and the next inflation reuses it", async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const c = r.counter({ name: 'n_total', help: 'h', labelNames: ['s'] });
    c.labels('a').inc();
    const a = adaptiveOf(c);
    const b = a.inflate(cellsOf(c, 'a'));
    i32Of(r)[(b + 128) >>> 2] = 9;
    c.remove('a');
    expect(c.stripeBlocks()).toEqual({ published: 0, free: 1, blockBytes: 512 });
    c.labels('b').inc();
    expect(a.inflate(cellsOf(c, 'b'))).toBe(b);
    expect(c.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 512 });
    expect(r.usage().inflatedBytes).toBe(512);
    // The reused block starts at zero: the 9 stayed with the removed series.
    expect((await c.get()).values).toEqual([{ labels: { s: 'b' }, value: 1 }]);
  });

  it('an unlabelled metric inflates too (its free list follows its count word)', async () => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const c = r.counter({ name: 'u_total', help: 'h', float: true });
    c.inc(0.5);
    const b = adaptiveOf(c).inflate(c.seriesCells()[0]!.dataOffset);
    expect(b).toBeGreaterThan(0);
    new Float64Array(r.handle.memory.buffer)[(b + 128 + adaptiveOf(c).geometry.highOffset) >>> 3] = 0.25;
    expect((await c.get()).values[0]!.value).toBe(0.75);
  });

  it.each([['not on a block boundary', 130], ['beyond the memory', 0x7fffff80], ['negative', -128]])('an inflation word %s reads as no block, and is never overwritten', async (_, word) => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const c = r.counter({ name: 'n_total', help: 'h', labelNames: ['s'] });
    c.labels('a').inc(3);
    const at = cellsOf(c, 'a');
    const a = adaptiveOf(c);
    i32Of(r)[(at + a.geometry.wordAt) >>> 2] = word;
    expect((await c.get()).values[0]!.value).toBe(3);
    expect(a.inflate(at)).toBe(0);
    expect(i32Of(r)[(at + a.geometry.wordAt) >>> 2]).toBe(word);
    expect(r.usage().inflatedBytes).toBe(0);
    c.labels('a').inc();
    expect((await c.get()).values[0]!.value).toBe(4);
  });
});

describe('a refused inflation', () => {
  // Two registries of one process, alike in capacity and layout: the refusal of each is
  // said once, by its own first refusal (the shared count decides), never silenced by the other's.
  it('is said once per registry, by each of two registries of the same capacity', () => {
    const warned = captureWarnings();
    const refuse = () => {
      const r = StatsRegistry.create({ backend: 'js', stripes: 8, capacityBytes: 1 << 16 });
      const c = r.counter({ name: 'c_total', help: 'h', labelNames: ['s'] });
      c.labels('a').inc();
      c.labels('b').inc();
      const filler = r.counter({ name: 'filler_total', help: 'h', labelNames: ['i'], maxSeries: 10_000, striped: false });
      for (let i = 0; ; i++) {
        try {
          filler.labels(String(i)).inc();
        } catch {
          break;
        }
      }
      expect(adaptiveOf(c).inflate(cellsOf(c, 'a'))).toBe(0);
      expect(adaptiveOf(c).inflate(cellsOf(c, 'b'))).toBe(0);
      expect(r.usage().inflationsRefused).toBe(2);
    };
    refuse();
    expect(warned.codes()).toEqual(['ERR_REGISTRY_FULL']);
    refuse();
    expect(warned.codes()).toEqual(['ERR_REGISTRY_FULL', 'ERR_REGISTRY_FULL']);
    expect(warned.warnings.every((w) => w.type === 'AtomicStatsWarning')).toBe(true);
  });
});
