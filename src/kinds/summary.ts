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
 *   +16  ageBuckets slices of SLICE_BYTES: an i32 epoch (the period the slice holds),
 *        4 bytes of padding, then 1025 u32 counts, most negative bucket first
 * The count and sum are one histObserveShared (the histogram's unstriped observe, count
 * first, sum second), so they are exact and agree the way a histogram's do (histogram.ts,
 * "Reads"). The slice counts are 32-bit atomic adds from JS on the same memory on every
 * backend (a Wasm thread's 64-bit atomics never touch these words).
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
 * Reset. prom-client's summary reset() zeroes its series and keeps them; so does this one
 * (each cell by adding its negated total: no observation racing with it is lost half-way).
 */
import { InvalidOptionsError } from '../errors.js';
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
  negate64,
  openMetric,
} from './metric-base.js';
import { FamilyCollector } from './series.js';
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
const SLICE_HEAD = 8;
const SLICE_BYTES = SLICE_HEAD + BUCKETS * 4 + 4; // 4112: 8-byte aligned
const MAX_AGE_BUCKETS = 60;

export interface SummaryConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<SummaryMetric<T>> {
  /** The percentiles reported, each in (0, 1]. Default prom-client's: 0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999. */
  percentiles?: readonly number[];
  /** Length of the sliding window, with ageBuckets. Default: no window (every observation). */
  maxAgeSeconds?: number;
  /** Time slices in the window (1..60), with maxAgeSeconds. */
  ageBuckets?: number;
}

export interface SummaryDefinition extends BaseDefinition {
  readonly percentiles: number[];
  /** 0: no window. */
  readonly maxAgeSeconds: number;
  /** Slices of the ring: 1 without a window. */
  readonly ageBuckets: number;
}

/** One series of a summary. Observed values are finite numbers; anything else throws InvalidValueError and records nothing. */
export interface SummarySeries {
  observe(value: number): void;
  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number;
}

const KEYS = [...BASE_KEYS, 'percentiles', 'maxAgeSeconds', 'ageBuckets'];

export function defineSummary(options: unknown, internal = false): SummaryDefinition {
  const { o, base } = defineBase(options, KEYS, ['quantile'], internal);
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
  if (!hasAge) return { ...base, percentiles, maxAgeSeconds: 0, ageBuckets: 1 };
  const maxAge = o.maxAgeSeconds;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || !(maxAge >= 0.001) || maxAge > 86_400 * 366) {
    throw new InvalidOptionsError('maxAgeSeconds', `must be a number of seconds from 0.001 to a year, got ${String(maxAge)}`);
  }
  const ab = o.ageBuckets;
  if (typeof ab !== 'number' || !Number.isInteger(ab) || ab < 1 || ab > MAX_AGE_BUCKETS) {
    throw new InvalidOptionsError('ageBuckets', `must be an integer from 1 to ${MAX_AGE_BUCKETS}, got ${String(ab)}`);
  }
  return { ...base, percentiles, maxAgeSeconds: maxAge, ageBuckets: ab };
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

class Series implements SummarySeries {
  constructor(
    private readonly ops: MetricOps,
    private readonly i32: Int32Array,
    private readonly dataOffset: number,
    // i32 index of slice 0's epoch; the slices follow, SLICE_BYTES apart.
    private readonly slices: number,
    private readonly ageBuckets: number,
    private readonly periodMs: number,
    private readonly metric: string,
  ) {}
  observe(v: number): void {
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.metric, v, 'must be a finite number');
    let s = this.slices;
    if (this.periodMs > 0) {
      const e = Math.floor(Date.now() / this.periodMs);
      s += (e % this.ageBuckets) * (SLICE_BYTES >>> 2);
      const was = Atomics.load(this.i32, s);
      if (was !== (e | 0)) rotate(this.i32, s, was, e | 0);
    }
    Atomics.add(this.i32, s + 2 + summaryBucket(v), 1);
    this.ops.histObserveShared(this.dataOffset, this.dataOffset + 8, v);
  }
  startTimer(): () => number {
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.observe(s);
      return s;
    };
  }
}

// The slice at i32 index `s` holds period `was`; move it to `e` (see "Rotation").
function rotate(i32: Int32Array, s: number, was: number, e: number): void {
  if (Atomics.compareExchange(i32, s, was, e) !== was) return; // another thread moved it
  for (let k = s + 2, end = s + 2 + BUCKETS; k < end; k++) if (Atomics.load(i32, k) !== 0) Atomics.store(i32, k, 0);
}

/** Reads the percentiles of the slices in the window, at time `nowMs`. */
function percentilesOf(i32: Int32Array, slices: number, def: SummaryDefinition, periodMs: number, nowMs: number, scratch: Float64Array): { quantile: number; value: number }[] {
  scratch.fill(0);
  let n = 0;
  const e = periodMs > 0 ? Math.floor(nowMs / periodMs) | 0 : 0;
  for (let k = 0; k < def.ageBuckets; k++) {
    const s = slices + k * (SLICE_BYTES >>> 2);
    if (periodMs > 0) {
      const age = (e - Atomics.load(i32, s)) | 0;
      if (age < 0 || age >= def.ageBuckets) continue;
    }
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

function summarySpec(registry: RegistryCore, def: SummaryDefinition): SeriesSpec<SummarySeries> {
  const m = registry.ops.metrics;
  const cells: CellOps = registry.ops.cells;
  const i32 = registry.views.i32;
  const periodMs = def.maxAgeSeconds > 0 ? (def.maxAgeSeconds * 1000) / def.ageBuckets : 0;
  const scratch = new Float64Array(BUCKETS);
  const count = (at: number) => cells.readShared64(at);
  return {
    bytes: 16 + def.ageBuckets * SLICE_BYTES,
    make: (at) => new Series(m, i32, at, (at + 16) >>> 2, def.ageBuckets, periodMs, def.name),
    read(at): SummaryValue {
      // The sum first, then the count (histogram.ts, "Reads").
      const sum = m.gaugeGet(at + 8);
      const c = count(at);
      return { quantiles: percentilesOf(i32, (at + 16) >>> 2, def, periodMs, Date.now(), scratch), sum, count: c };
    },
    tally: (at) => Number(count(at)),
    zero(at) {
      m.gaugeAdd(at + 8, -m.gaugeGet(at + 8));
      const n = negate64(count(at));
      cells.sharedAdd(at, n.lo, n.hi);
      for (let k = 0; k < def.ageBuckets; k++) {
        const s = ((at + 16) >>> 2) + k * (SLICE_BYTES >>> 2);
        for (let b = s + 2, end = s + 2 + BUCKETS; b < end; b++) {
          const c = Atomics.load(i32, b);
          if (c !== 0) Atomics.sub(i32, b, c);
        }
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

  /** @internal */
  constructor(registry: RegistryCore, def: SummaryDefinition, familyData: number, spec: SeriesSpec<SummarySeries>) {
    super(registry, def, familyData, spec);
    this.percentiles = Object.freeze([...def.percentiles]);
    this.maxAgeSeconds = def.maxAgeSeconds;
    this.ageBuckets = def.ageBuckets;
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
