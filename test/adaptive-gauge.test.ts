// Contention-adaptive gauges (src/kinds/gauge.ts, src/kinds/adaptive-cells.ts), in one
// thread: the option and its signature, what a read sums once a series has stripes, a
// set that clears every stripe before it stores into the base cell, where a child adds
// after inflation, reset and zero, the reuse of a removed series' block, a registry with
// no room for a block, and a word that names no block (corrupt memory) read as none.
// Contention itself needs two threads: adaptive-gauge.threads.test.ts.
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, NameConflictError, StatsRegistry } from '../src/index.js';
import type { AdaptiveCells } from '../src/kinds/adaptive-cells.js';
import { BACKENDS } from './helpers/backends.js';
import { bytesOf, i32Of } from './helpers/memory.js';
import { captureWarnings } from './helpers/warnings.js';

const adaptiveOf = (m: object): AdaptiveCells => (m as unknown as { spec: { adaptive: AdaptiveCells } }).spec.adaptive;
const cellsOf = (m: { seriesCells(): { labels: Readonly<Record<string, string>>; dataOffset: number }[] }, s: string): number =>
  m.seriesCells().find((c) => c.labels.s === s)!.dataOffset;
const f64Of = (r: StatsRegistry): Float64Array => new Float64Array(r.handle.memory.buffer);

/** The f64 cell of stripe `k` of the block `b` (the stripe's high slot). */
const stripeCell = (a: AdaptiveCells, b: number, k: number): number => (b + k * a.geometry.stride + a.geometry.highOffset) >>> 3;

/** Every stripe's f64 value of block `b`. */
const stripesOf = (r: StatsRegistry, a: AdaptiveCells, b: number): number[] => Array.from({ length: a.geometry.stripes }, (_, k) => f64Of(r)[stripeCell(a, b, k)]!);

describe('the striped option of a gauge', () => {
  it("is 'adaptive' when omitted; 'adaptive' and false are accepted", () => {
    const r = StatsRegistry.create();
    expect(r.gauge({ name: 'a', help: 'h' }).striped).toBe('adaptive');
    expect(r.gauge({ name: 'b', help: 'h', striped: 'adaptive' }).striped).toBe('adaptive');
    expect(r.gauge({ name: 'c', help: 'h', striped: false }).striped).toBe(false);
  });

  it('is part of the definition: omitted and false are two layouts, a conflict either way', () => {
    const r = StatsRegistry.create();
    r.gauge({ name: 'x', help: 'h', labelNames: ['s'] });
    expect(() => r.gauge({ name: 'x', help: 'h', labelNames: ['s'], striped: false })).toThrow(NameConflictError);
    expect(r.gauge({ name: 'x', help: 'h', labelNames: ['s'], striped: 'adaptive' }).striped).toBe('adaptive');
    r.gauge({ name: 'y', help: 'h', striped: false });
    expect(() => r.gauge({ name: 'y', help: 'h' })).toThrow(NameConflictError);
  });

  it('refuses striped: true with a typed error that says why, and changes nothing', () => {
    const r = StatsRegistry.create();
    const before = bytesOf(r);
    expect(() => r.gauge({ name: 'z', help: 'h', striped: true as never })).toThrow(InvalidOptionsError);
    expect(() => r.gauge({ name: 'z', help: 'h', striped: true as never })).toThrow(/set replaces the value/);
    expect(bytesOf(r).equals(before)).toBe(true);
  });

  it.each([['yes'], [1], [null], [{}]])('refuses %j with a typed error, and changes nothing', (bad) => {
    const r = StatsRegistry.create();
    const before = bytesOf(r);
    expect(() => r.gauge({ name: 'z', help: 'h', striped: bad as never })).toThrow(InvalidOptionsError);
    expect(bytesOf(r).equals(before)).toBe(true);
  });

  it('striped: false keeps one 8-byte cell a series, never inflated', () => {
    const r = StatsRegistry.create({ stripes: 4 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'], striped: false });
    g.labels('a').inc(2);
    expect(g.stripeBlocks()).toBeUndefined();
  });
});

describe.each(BACKENDS)('an adaptive gauge series (%s)', (backend) => {
  it('inflates once: the block is published and counted in usage(); a read sums the base cell and every stripe', async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    g.labels('a').set(5);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    expect(a.geometry.bytes).toBe(16);
    expect(g.stripeBlocks()).toEqual({ published: 0, free: 0, blockBytes: 4 * 128 });
    const used = r.usage().usedBytes;
    const b = a.inflate(at);
    expect(b).toBeGreaterThan(0);
    expect(a.inflate(at)).toBe(b);
    expect(r.usage().inflatedBytes).toBe(4 * 128);
    expect(r.usage().usedBytes).toBe(used + 4 * 128);
    expect(g.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 4 * 128 });
    // Stripes 1 and 3 hold what other threads added there.
    f64Of(r)[stripeCell(a, b, 1)] = 2.5;
    f64Of(r)[stripeCell(a, b, 3)] = -0.25;
    expect((await g.get()).values).toEqual([{ labels: { s: 'a' }, value: 7.25 }]);
  });

  it('set after inflation clears every stripe, then stores into the base cell: exactly the value set', async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    const child = g.labels('a');
    child.set(1);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    const b = a.inflate(at);
    for (let k = 0; k < 4; k++) f64Of(r)[stripeCell(a, b, k)] = 10 + k;
    expect((await g.get()).values[0]!.value).toBe(1 + 10 + 11 + 12 + 13);
    child.set(7);
    expect((await g.get()).values[0]!.value).toBe(7);
    expect(stripesOf(r, a, b)).toEqual([0, 0, 0, 0]);
    expect(f64Of(r)[at >>> 3]).toBe(7);
    // The metric's own set, setToCurrentTime and a timer's end go the same way.
    f64Of(r)[stripeCell(a, b, 2)] = 3;
    g.set({ s: 'a' }, -2);
    expect((await g.get()).values[0]!.value).toBe(-2);
    f64Of(r)[stripeCell(a, b, 2)] = 3;
    const before = Date.now() / 1000;
    child.setToCurrentTime();
    const now = (await g.get()).values[0]!.value;
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now() / 1000);
    f64Of(r)[stripeCell(a, b, 1)] = 3;
    const s = child.startTimer()();
    expect((await g.get()).values[0]!.value).toBe(s);
    f64Of(r)[stripeCell(a, b, 0)] = 3;
    const s2 = g.startTimer({ s: 'a' })();
    expect((await g.get()).values[0]!.value).toBe(s2);
    expect(stripesOf(r, a, b)).toEqual([0, 0, 0, 0]);
  });

  it("a child moves to its own stripe at its next add once the series has a block, and inc after set adds to the value set", async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    const child = g.labels('a');
    child.inc(3);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    const b = a.inflate(at);
    const mine = r.slot; // this registry object's owned stripe
    // This add lands on the base cell, and reports the word: the child takes its stripe.
    child.inc(1);
    expect(f64Of(r)[at >>> 3]).toBe(4);
    child.inc(2);
    child.dec(0.5);
    expect(f64Of(r)[stripeCell(a, b, mine)]).toBe(1.5);
    expect(f64Of(r)[at >>> 3]).toBe(4);
    expect((await g.get()).values[0]!.value).toBe(5.5);
    child.set(10);
    expect(f64Of(r)[stripeCell(a, b, mine)]).toBe(0);
    child.inc(1.5);
    g.dec({ s: 'a' }, 0.25);
    expect(f64Of(r)[stripeCell(a, b, mine)]).toBe(1.25);
    expect((await g.get()).values[0]!.value).toBe(11.25);
  });

  it('a thread with no stripe of its own adds to the base cell, also once the series has a block', async () => {
    const r = StatsRegistry.create({ backend, stripes: 1 });
    const other = StatsRegistry.attach(r.handle, { backend }); // no stripe left for it
    expect(other.usage().attachmentsWithoutStripe).toBe(1);
    const def = { name: 'g', help: 'h', labelNames: ['s'] };
    const g = r.gauge(def);
    g.labels('a').set(2);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    const b = a.inflate(at);
    other.gauge(def).labels('a').inc(3);
    other.gauge(def).labels('a').dec(0.5);
    expect(f64Of(r)[at >>> 3]).toBe(4.5);
    expect(stripesOf(r, a, b)).toEqual([0]);
    expect((await g.get()).values[0]!.value).toBe(4.5);
    other.close();
  });

  it("a child whose registry object hands its stripe back adds to the base cell from then on; its stripe's adds stay", async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const other = StatsRegistry.attach(r.handle, { backend });
    const def = { name: 'g', help: 'h', labelNames: ['s'] };
    const g = r.gauge(def);
    const child = other.gauge(def).labels('a');
    const mine = other.slot;
    child.inc(1);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    const b = a.inflate(at);
    child.inc(1); // learns of the block
    child.inc(2);
    expect(f64Of(r)[stripeCell(a, b, mine)]).toBe(2);
    other.close();
    child.inc(4);
    child.dec(0.5);
    expect(f64Of(r)[stripeCell(a, b, mine)]).toBe(2);
    expect(f64Of(r)[at >>> 3]).toBe(5.5);
    expect((await g.get()).values[0]!.value).toBe(7.5);
    child.set(1);
    expect((await g.get()).values[0]!.value).toBe(1);
  });

  it('zero() and the reset of an unlabelled gauge clear the stripes too', async () => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    g.labels('a').set(4);
    const a = adaptiveOf(g);
    const b = a.inflate(cellsOf(g, 'a'));
    f64Of(r)[stripeCell(a, b, 1)] = 6;
    g.zero({ s: 'a' });
    expect((await g.get()).values).toEqual([{ labels: { s: 'a' }, value: 0 }]);
    expect(stripesOf(r, a, b)).toEqual([0, 0]);

    const u = r.gauge({ name: 'u', help: 'h' });
    u.set(1);
    const ua = adaptiveOf(u);
    const ub = ua.inflate(u.seriesCells()[0]!.dataOffset);
    expect(ub).toBeGreaterThan(0);
    f64Of(r)[stripeCell(ua, ub, 0)] = 0.5;
    expect((await u.get()).values[0]!.value).toBe(1.5);
    u.reset();
    expect((await u.get()).values[0]!.value).toBe(0);
    u.inc(2);
    expect((await u.get()).values[0]!.value).toBe(2);
  });

  it("a removed series' block goes back to its family's free list, zeroed, and the next inflation reuses it", async () => {
    const r = StatsRegistry.create({ backend, stripes: 4 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    g.labels('a').inc();
    const a = adaptiveOf(g);
    const b = a.inflate(cellsOf(g, 'a'));
    f64Of(r)[stripeCell(a, b, 1)] = 9;
    g.remove('a');
    expect(g.stripeBlocks()).toEqual({ published: 0, free: 1, blockBytes: 512 });
    g.labels('b').inc(0.5);
    expect(a.inflate(cellsOf(g, 'b'))).toBe(b);
    expect(g.stripeBlocks()).toEqual({ published: 1, free: 0, blockBytes: 512 });
    expect(r.usage().inflatedBytes).toBe(512);
    // The reused block starts at zero: the 9 stayed with the removed series.
    expect((await g.get()).values).toEqual([{ labels: { s: 'b' }, value: 0.5 }]);
  });

  it('a registry with no room for a block keeps the series exact on its base cell, refused once', async () => {
    const warned = captureWarnings();
    const r = StatsRegistry.create({ backend, stripes: 8, capacityBytes: 1 << 16 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    const child = g.labels('a');
    const filler = r.counter({ name: 'filler_total', help: 'h', labelNames: ['i'], maxSeries: 10_000, striped: false });
    for (let i = 0; ; i++) {
      try {
        filler.labels(String(i)).inc();
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ERR_REGISTRY_FULL');
        break;
      }
    }
    const before = r.usage();
    expect(before.capacityBytes - before.usedBytes).toBeLessThan(g.stripeBlocks()!.blockBytes);
    const a = adaptiveOf(g);
    const at = cellsOf(g, 'a');
    expect(a.inflate(at)).toBe(0);
    expect(r.usage().inflationsRefused).toBe(1);
    // The child's next add sees the word set (refused), finds no block, and stays on the base cell.
    child.inc(2);
    child.inc(0.5);
    child.set(3);
    child.dec();
    expect((await g.get()).values).toEqual([{ labels: { s: 'a' }, value: 2 }]);
    expect(f64Of(r)[at >>> 3]).toBe(2);
    const after = r.usage();
    expect(after.usedBytes).toBe(before.usedBytes);
    expect(after.inflatedBytes).toBe(0);
    expect(after.inflationsRefused).toBe(1);
    expect(warned.codes()).toEqual(['ERR_REGISTRY_FULL']);
  });

  it.each([['not on a block boundary', 130], ['beyond the memory', 0x7fffff80], ['negative', -128]])('an inflation word %s reads as no block, is never written through, and is never overwritten', async (_, word) => {
    const r = StatsRegistry.create({ backend, stripes: 2 });
    const g = r.gauge({ name: 'g', help: 'h', labelNames: ['s'] });
    const child = g.labels('a');
    child.set(3);
    const at = cellsOf(g, 'a');
    const a = adaptiveOf(g);
    i32Of(r)[(at + a.geometry.wordAt) >>> 2] = word;
    const memory = bytesOf(r);
    expect((await g.get()).values[0]!.value).toBe(3);
    expect(a.inflate(at)).toBe(0);
    child.inc();
    child.set(5);
    child.dec(0.5);
    expect((await g.get()).values[0]!.value).toBe(4.5);
    // Only the base cell changed: nothing was stored where the word points.
    const now = bytesOf(r);
    now.writeDoubleLE(3, at);
    expect(now.equals(memory)).toBe(true);
    expect(i32Of(r)[(at + a.geometry.wordAt) >>> 2]).toBe(word);
    expect(r.usage().inflatedBytes).toBe(0);
  });
});
