/*
 * Summary metrics: percentiles over a sliding time window, with an exact count and sum,
 * shared by every thread, lock-free.
 *
 * Why not prom-client's way. prom-client keeps a t-digest per series per thread, and two
 * t-digests cannot be merged in shared memory without one thread sending its digest to
 * another. So a series here is a ring of `ageBuckets` time slices, each a histogram on the
 * fixed grid of Prometheus' native histograms at schema 3: every thread adds its
 * observations to the slice of the current period, any thread reads the percentiles from
 * the slices still in the window, and nobody sends a message.
 *
 * The grid. Bucket j of positive values holds (2^(MIN_EXP + j/8), 2^(MIN_EXP + (j+1)/8)],
 * j = 0..511, so magnitudes from 2^-30 (about 1e-9) to 2^34 (about 1.7e10); negative
 * values mirror it, and an exact 0 has a bucket of its own. A percentile is the nearest
 * rank observation's bucket, reported as the point 2lu / (l + u) of its bounds l < u = l·b
 * (b = 2^(1/8)): whatever the observation in that bucket, the report is within
 * (b - 1) / (b + 1) = 4.33 % of it, relative. Magnitudes outside the grid are counted in
 * its first or last bucket, and that bound does not hold for them. The bound is reached
 * at a bucket's upper bound (a power of two among them), where the computed report can
 * be one rounding past it; a value within an ulp-level step of a bound that Math.log2
 * rounds into the next bucket is off by at most b - 1.
 *
 * Cells of one series:
 *   +0   the count, a u64 (an exact count, every observation ever)
 *   +8   the sum, an f64's bits (CAS add: assembly/histogram.ts, as a histogram's sum)
 *   +16  the inflation word of the count and sum (adaptive-cells.ts), 4 bytes of padding
 *   +24  ageBuckets slices of SLICE_BYTES: an i32 epoch (the period the slice holds), an
 *        i32 reset generation, then 1025 u32 counts, most negative bucket first
 * The count and sum are exactly a histogram's of one bucket: an observation adds to the
 * count first and the sum second, and a read takes the sum first, so they are exact and
 * agree the way a histogram's do (histogram.ts, "Reads"). The slice counts are 32-bit
 * atomic adds from JS on the same memory on every backend (a Wasm thread's 64-bit atomics
 * never touch these words).
 *
 * Contention. By default (`striped` omitted, or 'adaptive') the count and sum are a
 * contention-adaptive pair (adaptive-cells.ts, 2 fields, the word at +16): a thread
 * writes them with histObserveBase, whose sum's failed swap (or a set word) gives the
 * series a block of stripes, and from then on writes its own stripe's count and sum with
 * the owned protocol, as an adaptive histogram's series does. A read sums the base cells
 * and every stripe, the sum before the count. `striped: false` keeps every thread on the
 * shared cells (the word stays NONE); `striped: true` is refused (see defineSummary).
 *
 * Striping the count and sum alone leaves a contended series almost as slow: two threads
 * that observe values of one bucket, or of one 64-byte line of a slice (16 buckets, two
 * powers of two), still take turns on that line at every observation. Striping the slices
 * would cost ageBuckets x 4 KiB per stripe and series. So each stripe of the block also
 * has, after its count and sum, a small cache per slice (CACHE_BYTES: an i32 epoch, an
 * i32 generation, CACHE_ENTRIES u16 tags, then as many u32 counts), written only by the
 * stripe's owner with plain stores, as an owned counter's low word is:
 *   - entry j holds the counts of one bucket b with b mod CACHE_ENTRIES = j (tag b + 1),
 *     the first such bucket the owner observed in the cache's period; another bucket of
 *     that j goes to the shared slice. An entry never changes its bucket within a period,
 *     so a count is never moved between words, and each observation adds one to exactly
 *     one word (a slice's or an entry's) that only grows until its period ends: the slices'
 *     own argument, with no flush to race with.
 *   - the cache counts for slice k only while its epoch and generation equal the slice's:
 *     a reader adds the entries of every stripe's cache that matches to the slice's
 *     counts. The owner, at its first observation in a new period or after a reset(),
 *     zeroes its entries and then stores the generation and the epoch, in that order
 *     (atomic stores, which release the zeroing to any reader that sees them; a pair
 *     half-stored either names no slice or names the new one with its entries zeroed).
 *     The old pair never matches the slice again: its period left the window before
 *     slice k was reused for a newer one, and a reset raised the slice's generation.
 *   - the caches belong to the stripe, not to the thread: a thread that hands its stripe
 *     back (or is terminated) leaves its entries counted where they are, and the stripe's
 *     next owner goes on adding to them. A thread terminated while it empties its cache
 *     leaves the old pair, which counts for nothing, and the next owner empties it again.
 * A contended series thus costs its count and sum stripes and 104 bytes per slice per
 * stripe (one 128-byte block a stripe without a window), about a counter's block, where
 * striped slices would be 4 KiB each; values that spread over more than two powers of two
 * in one period share the cache's entries, and the buckets that lost fall back to the
 * shared slice, where they contend as before (less often: they are the rarer values).
 *
 * Rotation. With maxAgeSeconds and ageBuckets (both, as prom-client requires), time is cut
 * into periods of maxAgeSeconds / ageBuckets: period e goes to slice e mod ageBuckets.
 * A writer reads the slice's epoch; when it is an older period, it moves it to e with one
 * CAS, and the thread whose CAS won zeroes the slice's counts. A read merges the slices
 * whose epoch is one of the last ageBuckets periods, so the window is between
 * (ageBuckets - 1) and ageBuckets periods long, as prom-client's. Two races are judged
 * benign, because they touch the percentiles only, never the count or the sum: an
 * observation made by another thread between the CAS and the zeroing can be zeroed with
 * the old ones (it is missing from the window), and an old observation added late, after
 * the zeroing, stays in the slice for one period. A thread terminated during its
 * zeroing leaves some old counts in one slice for one period. No thread ever waits.
 * Without maxAgeSeconds there is one slice, never rotated: the percentiles of every
 * observation, as prom-client's default.
 *
 * Reset. prom-client's summary reset() zeroes its series and keeps them; so does this one:
 * the count and the sum by adding its negated total (base and stripes together, added to
 * the base cell), so no observation racing with it is lost from the count or the sum;
 * each shared slice count by swapping it to zero (an observation racing with it lands
 * before the swap or after it; a negated read would turn negative under a rotation's
 * zeroing or a second reset); and each slice's generation goes up by one, which makes
 * every stripe's cache of it count for nothing until its owner empties it. An
 * observation whose owner read the generation just before the reset raised it goes to a
 * cache that no longer counts: it is in the count and the sum, and missing from the
 * percentiles (one observation per thread at most, and only when the two race).
 */
import { InvalidOptionsError, describe } from '../errors.js';
import type { SummaryValue } from '../family.js';
import type { MetricOps } from '../ops/metrics.js';
import type { CellOps } from '../ops/cells.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { InvalidLabelsError, InvalidValueError } from './errors.js';
import type { LabelValues } from './labels.js';
import {
  BASE_KEYS,
  type BaseDefinition,
  Metric,
  type MetricConfigurationBase,
  type MetricObject,
  type MetricValue,
  type SeriesSpec,
  checkedByMetric, reapFamily,
  defineBase,
  openMetric,
} from './metric-base.js';
import { AdaptiveCells } from './adaptive-cells.js';
import { FamilyCollector } from './series.js';
import { zeroF64, zeroU64 } from './zeroing.js';
import type { CollectOption } from '../collect-callbacks.js';

/** prom-client's default percentiles. */
export const DEFAULT_PERCENTILES: readonly number[] = Object.freeze([0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999]);
/** The schema of the slices' grid: 2^3 buckets per power of two. */
export const SUMMARY_SCHEMA = 3;
/** The most a reported percentile is off, relative, for magnitudes from 2^-30 to 2^34. */
export const SUMMARY_RELATIVE_ERROR = (2 ** (1 / 8) - 1) / (2 ** (1 / 8) + 1);
const MIN_EXP = -30;
const PER_OCTAVE = 1 << SUMMARY_SCHEMA;
const SIDE = 64 * PER_OCTAVE; // 512 buckets for each sign: 2^-30 .. 2^34
const ZERO = SIDE; // index of the exact-zero bucket
const BUCKETS = 2 * SIDE + 1;
const SLICE_HEAD = 8; // epoch, generation
const SLICE_BYTES = SLICE_HEAD + BUCKETS * 4 + 4; // 4112: 8-byte aligned
const SLICE_WORDS = SLICE_BYTES >>> 2;
const MAX_AGE_BUCKETS = 60;
// Cells of a series (see the header).
const SUM_AT = 8;
const SLICES_AT = 24;
// A stripe's cache of one slice (see "Contention"): epoch, generation, tags, counts.
const CACHE_ENTRIES = 16;
const CACHE_TAGS = 8;
const CACHE_COUNTS = CACHE_TAGS + CACHE_ENTRIES * 2;
const CACHE_BYTES = CACHE_COUNTS + CACHE_ENTRIES * 4; // 104: 8-byte aligned

export interface SummaryConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<SummaryMetric<T>> {
  /** The percentiles reported, each in (0, 1]. Default prom-client's: 0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999. */
  percentiles?: readonly number[];
  /** Length of the sliding window, with ageBuckets. Default: no window (every observation). */
  maxAgeSeconds?: number;
  /** Time slices in the window (1..60), with maxAgeSeconds. */
  ageBuckets?: number;
  /**
   * Default `'adaptive'`: each series' count, sum and slice counts are shared until
   * threads observe it at the same instant, then every thread writes its own stripe of
   * them for that series alone. `false`: shared, whatever the contention.
   */
  striped?: false | 'adaptive';
}

export interface SummaryDefinition extends BaseDefinition {
  readonly percentiles: number[];
  /** 0: no window. */
  readonly maxAgeSeconds: number;
  /** Slices of the ring: 1 without a window. */
  readonly ageBuckets: number;
  readonly striped: false | 'adaptive';
}

/** One series of a summary. Observed values are finite numbers; anything else throws InvalidValueError and records nothing. */
export interface SummarySeries {
  observe(value: number): void;
  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number;
}

const KEYS = [...BASE_KEYS, 'percentiles', 'maxAgeSeconds', 'ageBuckets', 'striped'];

// A summary's series stripe themselves when contended, or never: `true` (a block of
// stripes for every series from its creation) would cost every series what only a
// contended one needs, and the adaptive default gets there within a few contended writes.
function checkSummaryStriping(o: Record<string, unknown>): false | 'adaptive' {
  if (o.striped === undefined || o.striped === 'adaptive') return 'adaptive';
  if (o.striped === false) return false;
  throw new InvalidOptionsError('striped', `a summary's series stripe themselves once contended: must be false or "adaptive", got ${describe(o.striped)}`);
}

export function defineSummary(options: unknown, internal = false): SummaryDefinition {
  const { o, base } = defineBase(options, KEYS, ['quantile'], internal);
  const striped = checkSummaryStriping(o);
  let percentiles: number[] = [...DEFAULT_PERCENTILES];
  if (o.percentiles !== undefined) {
    if (!Array.isArray(o.percentiles) || o.percentiles.length === 0 || o.percentiles.length > 32) {
      throw new InvalidOptionsError('percentiles', 'must be an array of 1 to 32 numbers in (0, 1]');
    }
    for (const p of o.percentiles) {
      if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw new InvalidOptionsError('percentiles', `each must be a number in (0, 1], got ${String(p)}`);
    }
    percentiles = [...(o.percentiles as number[])];
  }
  // No window: neither option, or maxAgeSeconds 0 (how the definition is stored).
  const hasAge = o.maxAgeSeconds !== undefined && o.maxAgeSeconds !== 0;
  const hasBuckets = o.ageBuckets !== undefined && !(o.maxAgeSeconds === 0 && o.ageBuckets === 1);
  if (hasAge !== hasBuckets) throw new InvalidOptionsError(hasAge ? 'ageBuckets' : 'maxAgeSeconds', 'maxAgeSeconds and ageBuckets go together (a sliding window needs both)');
  if (!hasAge) return { ...base, percentiles, maxAgeSeconds: 0, ageBuckets: 1, striped };
  const maxAge = o.maxAgeSeconds;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || !(maxAge >= 0.001) || maxAge > 86_400 * 366) {
    throw new InvalidOptionsError('maxAgeSeconds', `must be a number of seconds from 0.001 to a year, got ${String(maxAge)}`);
  }
  const ab = o.ageBuckets;
  if (typeof ab !== 'number' || !Number.isInteger(ab) || ab < 1 || ab > MAX_AGE_BUCKETS) {
    throw new InvalidOptionsError('ageBuckets', `must be an integer from 1 to ${MAX_AGE_BUCKETS}, got ${String(ab)}`);
  }
  return { ...base, percentiles, maxAgeSeconds: maxAge, ageBuckets: ab, striped };
}

/** The slice index (0..1024, most negative first) of a finite `v`. */
export function summaryBucket(v: number): number {
  if (v === 0) return ZERO;
  const a = v < 0 ? -v : v;
  let j = Math.ceil((Math.log2(a) - MIN_EXP) * PER_OCTAVE) - 1;
  if (j < 0) j = 0;
  else if (j >= SIDE) j = SIDE - 1;
  return v < 0 ? ZERO - 1 - j : ZERO + 1 + j;
}

/** What a percentile in slice bucket `i` is reported as (see the header). */
export function summaryBucketValue(i: number): number {
  if (i === ZERO) return 0;
  const j = i > ZERO ? i - ZERO - 1 : ZERO - 1 - i;
  const l = 2 ** (MIN_EXP + j / PER_OCTAVE);
  const u = 2 ** (MIN_EXP + (j + 1) / PER_OCTAVE);
  const m = (2 * l * u) / (l + u);
  return i > ZERO ? m : -m;
}

/** What every series of one summary object shares (one per metric object, so each child is small). */
class SummaryShape {
  constructor(
    readonly ops: MetricOps,
    readonly i32: Int32Array,
    readonly u16: Uint16Array,
    readonly ageBuckets: number,
    // 0 without a window.
    readonly periodMs: number,
    readonly metric: string,
    // Undefined with `striped: false`.
    readonly adaptive: AdaptiveCells | undefined,
    // Bytes from a stripe to its count's high word, its sum, and its slice 0's cache.
    readonly highAt: number,
    readonly sumAt: number,
    readonly cacheAt: number,
  ) {}
}

/**
 * A series of a summary. `low` is where its count and sum go, as in histogram.ts's
 * AdaptiveSeries: -1 the base cells, probing (the sum's CAS); -2 the base cells, probing no
 * more (`striped: false`, no stripe, refused, or handed back); otherwise its own stripe,
 * whose caches then take its slice counts (see "Contention").
 */
class Series implements SummarySeries {
  private low: number;
  constructor(
    private readonly m: SummaryShape,
    private readonly stripe: number,
    private readonly dataOffset: number,
  ) {
    this.low = m.adaptive === undefined || stripe < 0 ? -2 : -1;
  }
  /** @internal Its stripe is being handed back: the base cells and the shared slices from now on. */
  retireStripe(): void {
    this.low = -2;
  }
  observe(v: number): void {
    const m = this.m;
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(m.metric, v, 'must be a finite number');
    const i32 = m.i32;
    const at = this.dataOffset;
    let s = (at + SLICES_AT) >>> 2;
    let k = 0;
    let e = 0;
    if (m.periodMs > 0) {
      const t = Math.floor(Date.now() / m.periodMs);
      k = t % m.ageBuckets;
      e = t | 0;
      s += k * SLICE_WORDS;
      const was = Atomics.load(i32, s);
      if (was !== e) rotate(i32, s, was, e);
    }
    const b = summaryBucket(v);
    const low = this.low;
    if (low >= 0) {
      if (!cacheAdd(i32, m.u16, low + m.cacheAt + k * CACHE_BYTES, s, e, b)) Atomics.add(i32, s + 2 + b, 1);
      m.ops.histObserveOwned(low, low + m.highAt, low + m.sumAt, v);
      return;
    }
    Atomics.add(i32, s + 2 + b, 1);
    if (low !== -1) m.ops.histObserveShared(at, at + SUM_AT, v);
    else if (m.ops.histObserveBase(at, at + SUM_AT, v) !== 0) this.contended();
  }
  startTimer(): () => number {
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.observe(s);
      return s;
    };
  }
  private contended(): void {
    const at = this.m.adaptive!.stripeOf(this.dataOffset, this.stripe);
    this.low = at === 0 ? -2 : at;
  }
}

// The slice at i32 index `s` holds period `was`; move it to `e` (see "Rotation").
function rotate(i32: Int32Array, s: number, was: number, e: number): void {
  if (Atomics.compareExchange(i32, s, was, e) !== was) return; // another thread moved it
  for (let k = s + 2, end = s + 2 + BUCKETS; k < end; k++) if (Atomics.load(i32, k) !== 0) Atomics.store(i32, k, 0);
}

/**
 * Adds one to bucket `b` in the cache at byte `c` of this thread's stripe, for the slice at
 * i32 index `s` in period `e` (see "Contention"); false when the bucket's entry belongs to
 * another bucket (the caller adds to the shared slice). Only the stripe's owner runs it.
 */
function cacheAdd(i32: Int32Array, u16: Uint16Array, c: number, s: number, e: number, b: number): boolean {
  const h = c >>> 2;
  const gen = Atomics.load(i32, s + 1);
  if (i32[h] !== e || i32[h + 1] !== gen) {
    // A new period or a reset: empty the entries first, then say whose they are.
    for (let w = h + 2, end = h + (CACHE_BYTES >>> 2); w < end; w++) i32[w] = 0;
    Atomics.store(i32, h + 1, gen);
    Atomics.store(i32, h, e);
  }
  const j = b & (CACHE_ENTRIES - 1);
  const t = ((c + CACHE_TAGS) >>> 1) + j;
  const tag = u16[t]!;
  const n = ((c + CACHE_COUNTS) >>> 2) + j;
  if (tag === b + 1) {
    i32[n] = (i32[n]! + 1) | 0; // wraps at 2^32, as a slice count does
    return true;
  }
  if (tag !== 0) return false;
  // The tag before the count: a reader takes an entry's count only with its tag.
  u16[t] = b + 1;
  i32[n] = 1;
  return true;
}

/** The stripes of an inflated series, for a read: stripe 0's cache of slice 0, and the bytes between stripes. */
interface Caches {
  readonly first: number;
  readonly stride: number;
  readonly stripes: number;
}

// Adds every stripe's cache of slice k that holds the slice's period and generation to
// `scratch`; returns how many counts it added. A tag names a bucket, or is not counted.
function cachedCounts(i32: Int32Array, u16: Uint16Array, caches: Caches, k: number, epoch: number, gen: number, scratch: Float64Array): number {
  let n = 0;
  for (let st = 0; st < caches.stripes; st++) {
    const c = caches.first + st * caches.stride + k * CACHE_BYTES;
    const h = c >>> 2;
    if (Atomics.load(i32, h) !== epoch || Atomics.load(i32, h + 1) !== gen) continue;
    for (let j = 0, t = (c + CACHE_TAGS) >>> 1, w = (c + CACHE_COUNTS) >>> 2; j < CACHE_ENTRIES; j++) {
      const tag = u16[t + j]!;
      if (tag === 0 || tag > BUCKETS) continue;
      const x = i32[w + j]! >>> 0;
      scratch[tag - 1] = scratch[tag - 1]! + x;
      n += x;
    }
  }
  return n;
}

/**
 * Merges the slices in the window at time `nowMs`, with the stripes' caches of them, into
 * `scratch` (a count per bucket); returns the total.
 */
function mergeWindow(i32: Int32Array, u16: Uint16Array, slices: number, caches: Caches | undefined, def: SummaryDefinition, periodMs: number, nowMs: number, scratch: Float64Array): number {
  scratch.fill(0);
  let n = 0;
  const e = periodMs > 0 ? Math.floor(nowMs / periodMs) | 0 : 0;
  for (let k = 0; k < def.ageBuckets; k++) {
    const s = slices + k * SLICE_WORDS;
    const epoch = Atomics.load(i32, s);
    if (periodMs > 0) {
      const age = (e - epoch) | 0;
      if (age < 0 || age >= def.ageBuckets) continue;
    }
    if (caches !== undefined) n += cachedCounts(i32, u16, caches, k, epoch, Atomics.load(i32, s + 1), scratch);
    // Plain loads: a percentile is approximate by nature and a scrape reads 1,025 words per
    // slice and series; an aligned 32-bit load is never torn, it may only miss an add in
    // flight, which an atomic load could miss as well a moment earlier.
    for (let b = 0, base = s + 2; b < BUCKETS; b++) {
      const c = i32[base + b]! >>> 0;
      if (c !== 0) {
        scratch[b] = scratch[b]! + c;
        n += c;
      }
    }
  }
  return n;
}

/** The percentiles of `n` observations counted per bucket in `scratch`. */
function percentilesOf(def: SummaryDefinition, scratch: Float64Array, n: number): { quantile: number; value: number }[] {
  const out = def.percentiles.map((q) => ({ quantile: q, value: 0 }));
  if (n === 0) return out;
  // One walk for every percentile, in rank order.
  const order = def.percentiles.map((q, k) => ({ rank: Math.max(1, Math.ceil(q * n)), k })).sort((a, b) => a.rank - b.rank);
  let cum = 0;
  let next = 0;
  for (let b = 0; b < BUCKETS && next < order.length; b++) {
    cum += scratch[b]!;
    while (next < order.length && cum >= order[next]!.rank) out[order[next++]!.k]!.value = summaryBucketValue(b);
  }
  for (; next < order.length; next++) out[order[next]!.k]!.value = summaryBucketValue(BUCKETS - 1);
  return out;
}

/** A summary's spec: its series, and the window's counts (tests). */
interface SummarySpec extends SeriesSpec<SummarySeries> {
  /** The window's count per slice bucket (only those not 0), as a read merges them. */
  window(dataOffset: number): [number, number][];
}

function summarySpec(registry: RegistryCore, def: SummaryDefinition): SummarySpec {
  const m = registry.ops.metrics;
  const cells: CellOps = registry.ops.cells;
  const i32 = registry.views.i32;
  const u16 = new Uint16Array(i32.buffer);
  const periodMs = def.maxAgeSeconds > 0 ? (def.maxAgeSeconds * 1000) / def.ageBuckets : 0;
  const scratch = new Float64Array(BUCKETS);
  // The count and sum: 2 fields; each stripe then has a cache per slice.
  const adaptive = def.striped === 'adaptive' ? new AdaptiveCells(registry, def.name, 2, def.ageBuckets * CACHE_BYTES) : undefined;
  const g = adaptive?.geometry;
  const shape = new SummaryShape(m, i32, u16, def.ageBuckets, periodMs, def.name, adaptive, g?.highOffset ?? 0, (g?.highOffset ?? 0) + 8, g?.extraOffset ?? 0);
  // The series' block of stripes, read once per read (adaptive-cells.ts says why that is enough), or 0.
  const blockOf = (at: number): number => (adaptive === undefined ? 0 : adaptive.block(at));
  const readSum = (at: number, b: number): number => (b === 0 ? m.gaugeGet(at + SUM_AT) : m.f64SumStriped(at + SUM_AT, b + g!.highOffset + 8, g!.stride, g!.stripes));
  const cachesOf = (b: number): Caches | undefined => (b === 0 ? undefined : { first: b + g!.extraOffset, stride: g!.stride, stripes: g!.stripes });
  const count = (at: number, b: number): bigint => (b === 0 ? cells.readShared64(at) : cells.readStriped64(at, b, b + g!.highOffset, g!.stride, g!.stripes));
  return {
    bytes: SLICES_AT + def.ageBuckets * SLICE_BYTES,
    ...(adaptive === undefined ? {} : { adaptive }),
    make: (at) => new Series(shape, registry.ownedStripe(adaptive !== undefined), at),
    read(at): SummaryValue {
      // The sum first, then the count (histogram.ts, "Reads").
      const b = blockOf(at);
      const sum = readSum(at, b);
      const c = count(at, b);
      const n = mergeWindow(i32, u16, (at + SLICES_AT) >>> 2, cachesOf(b), def, periodMs, Date.now(), scratch);
      return { quantiles: percentilesOf(def, scratch, n), sum, count: c };
    },
    window(at) {
      mergeWindow(i32, u16, (at + SLICES_AT) >>> 2, cachesOf(blockOf(at)), def, periodMs, Date.now(), scratch);
      const out: [number, number][] = [];
      scratch.forEach((c, i) => c !== 0 && out.push([i, c]));
      return out;
    },
    tally: (at) => Number(count(at, blockOf(at))),
    // The sum first, then the count, as a read takes them; each base cell set to minus its
    // stripes (zeroing.ts). Then each slice: its caches first (the generation), then its
    // shared counts.
    zero(at) {
      const b = blockOf(at);
      zeroF64(m, at + SUM_AT, b === 0 ? undefined : { first: b + g!.highOffset + 8, stride: g!.stride, stripes: g!.stripes });
      zeroU64(i32.buffer, at, b === 0 ? undefined : { firstLow: b, firstHigh: b + g!.highOffset, stride: g!.stride, stripes: g!.stripes });
      for (let k = 0; k < def.ageBuckets; k++) {
        const s = ((at + SLICES_AT) >>> 2) + k * SLICE_WORDS;
        Atomics.add(i32, s + 1, 1);
        // Swapped to zero, not decremented by what was read: a rotation's zeroing, or
        // another reset, between the read and the write would leave the count negative,
        // a bucket of some 4e9 observations until its slice rotates.
        for (let w = s + 2, end = s + 2 + BUCKETS; w < end; w++) if (Atomics.load(i32, w) !== 0) Atomics.exchange(i32, w, 0);
      }
    },
  };
}

/**
 * A summary shared by every thread (`registry.summary({ name, help, labelNames, percentiles,
 * maxAgeSeconds, ageBuckets })`), with prom-client's call shapes: `observe(0.2)`,
 * `observe({ route: '/a' }, 0.2)`, `startTimer(labels?)`, `labels(...)`, `get()`.
 * Percentiles are within 4.33 % of the true ones (relative; see the module's header),
 * count and sum are exact.
 */
export class SummaryMetric<T extends string = string> extends Metric<SummarySeries, T> {
  readonly type = 'summary' as const;
  readonly percentiles: readonly number[];
  /** 0 without a sliding window. */
  readonly maxAgeSeconds: number;
  readonly ageBuckets: number;
  /** How each series is striped per thread: once contended ('adaptive', the default), or never (false). */
  readonly striped: false | 'adaptive';

  /** @internal */
  constructor(registry: RegistryCore, def: SummaryDefinition, familyData: number, spec: SeriesSpec<SummarySeries>) {
    super(registry, def, familyData, spec);
    this.percentiles = Object.freeze([...def.percentiles]);
    this.maxAgeSeconds = def.maxAgeSeconds;
    this.ageBuckets = def.ageBuckets;
    this.striped = def.striped;
  }

  observe(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) {
      this.series(labels).observe(value as number);
      return;
    }
    if (value !== undefined) throw new InvalidLabelsError(this.name, 'labels must be an object: observe(labels, value)');
    this.series(undefined).observe(labels);
  }

  startTimer(labels?: LabelValues<T>): (endLabels?: LabelValues<T>) => number {
    const t0 = performance.now();
    return (endLabels?: LabelValues<T>) => {
      const s = (performance.now() - t0) / 1000;
      this.series(endLabels === undefined ? labels : { ...labels, ...endLabels }).observe(s);
      return s;
    };
  }

  /**
   * @internal The window's count per slice bucket of the series for `labels`, as a read
   * merges them (the shared slices and every stripe's caches): [bucket, count] for each
   * bucket not 0, or undefined when the series does not exist.
   */
  windowCounts(labels?: LabelValues<T>): [number, number][] | undefined {
    return this.existing(labels, (at) => (this.spec as SummarySpec).window(at));
  }

  /** prom-client's reset: every series is zeroed and kept. */
  override reset(): void {
    this.zeroAll();
  }

  /** prom-client's MetricObject: per series one value per percentile (label `quantile`), then `_sum` and `_count`. */
  async get(): Promise<MetricObject> {
    const values: MetricValue[] = [];
    for (const s of this.readAll()) {
      const v = s.value as SummaryValue;
      for (const q of v.quantiles) values.push({ labels: { quantile: q.quantile, ...s.labels }, value: q.value });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: v.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: Number(v.count) });
    }
    return { name: this.name, help: this.help, type: 'summary', values, aggregator: 'sum' };
  }
}

/** The summary metrics' kind. */
export const summaryKind = {
  name: 'summary',
  code: 12,
  dataBytes: checkedByMetric,
  threadEnded: reapFamily,
  collector: new FamilyCollector((registry, definition): SummaryMetric => summaryKind.open(registry, definition, true)),

  /** The body of `StatsRegistry.summary`; `internal`: the package's own families (see defineBase). */
  open<T extends string = string>(registry: RegistryCore, options: unknown, internal = false): SummaryMetric<T> {
    return openMetric(registry, summaryKind, defineSummary(options, internal), summarySpec, SummaryMetric<T>);
  },
} satisfies Kind;
