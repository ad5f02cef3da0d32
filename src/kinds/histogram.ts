/*
 * Histogram metrics: explicit buckets, sum and count, shared by every thread, lock-free.
 *
 * Cells of one series, laid out as a counter set of B + 1 fields (layout.ts setGeometry),
 * B = the finite bounds + the +Inf bucket:
 *   field i < B  the count of observations in bucket i alone (not cumulative: one
 *                observation touches one bucket cell; cumulative counts are summed on read)
 *   field B      the sum, an f64's bits (assembly/gauges.ts)
 * The count is the sum of the bucket cells, so count and buckets always agree.
 *
 * With `striped: false`, every thread adds to the shared cells: an atomic add on the
 * bucket and a CAS add on the sum (assembly/histogram.ts). By default a series is
 * adaptive (adaptive-cells.ts): the same shared cells, whose sum's CAS failing is the
 * signal of contention that gives the series a block of stripes, each laid out as an
 * owned stripe below, once threads observe it at the same instant. With `striped: true` each
 * attached thread also owns a stripe: its bucket cells follow the owned-cell protocol of
 * assembly/counters.ts (a plain store of a tagged low word) and its sum is the high-word
 * slot of field B, which only it writes (an atomic store, no CAS). A read adds the shared
 * sum and every stripe's sum in f64: each add rounds once, so the total is what adding
 * the same observations in some other order gives -- exact whenever the observations
 * and their partial sums are exact in binary (e.g. multiples of 2^-10 below 2^43), and
 * otherwise within the usual double rounding of a sum of that many terms.
 *
 * Reads. A read is a set of loads, each atomic, not a snapshot; what makes its sum and
 * count agree is their order. An observation adds to its bucket first and to the sum
 * second (assembly/histogram.ts), and a read loads the sum first and the buckets second.
 * Every observation in the sum it loaded had already added to its bucket (program order
 * on the writer, and for an owned stripe's plain bucket store the release of the sum's
 * atomic store, which the reader's atomic load acquires), and the buckets are loaded
 * after the sum, so they include it too: the sum never counts an observation the count
 * lacks. (The 'js' backend stores an owned stripe's sum with a plain store, so that a
 * terminated thread cannot keep a bucket without its sum: ops/metrics-js.ts. Where a CPU
 * reorders stores, a read may then see a sum lead its count by the one observation each
 * such writer has in flight.) The other way, the count may include observations whose add to the sum the read
 * missed: those in flight while it ran (at most the observations that overlapped the
 * read in time; none once writers are quiet). The opposite order allowed a sum ahead of
 * its count by every observation made during the read -- unbounded when the reading
 * thread is descheduled between the two, 2.4 million was seen under four writers. A
 * retry (read the buckets twice around the sum, keep the pair if equal) could tighten
 * the count's lead to one observation per writing thread, but under steady writing it
 * rarely succeeds, so it would cost every read and bound nothing more in the case that
 * matters; it is not done.
 *
 * The bucket is found in JS (buckets.ts); the bounds are fixed at creation and are part
 * of the signature, so every thread uses the same ones and they never live in shared memory.
 */
import { InvalidOptionsError } from '../errors.js';
import type { HistogramValue } from '../family.js';
import { alignUp, cellAddresses, setGeometry } from '../layout.js';
import { EXEMPLAR_SLOT, encodeExemplarLabels, readExemplar, writeExemplar } from './exemplars.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { bucketIndex, checkBuckets, quantileFromBuckets } from './buckets.js';
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
  type Striping,
  checkBool,
  checkStriping,
  checkedByMetric, reapFamily,
  defineBase,
  openMetric,
} from './metric-base.js';
import type { MetricOps } from '../ops/metrics.js';
import type { CellOps } from '../ops/cells.js';
import { AdaptiveCells } from './adaptive-cells.js';
import { FamilyCollector } from './series.js';
import { zeroF64, zeroU64 } from './zeroing.js';
import type { CollectOption } from '../collect-callbacks.js';

export interface HistogramConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<HistogramMetric<T>> {
  /** Upper bounds (finite, strictly increasing; +Inf is added). Default prom-client's: 0.005 … 10 (seconds). */
  buckets?: readonly number[];
  /**
   * `true`: each thread its own stripe of every series from the start, (stripes + 1)
   * blocks of the bucket cells a series; `false`: one set of shared cells a series.
   * Default `'adaptive'`: shared cells until threads observe the series at the same
   * instant, then a stripe per thread for that series alone.
   */
  striped?: boolean | 'adaptive';
  /**
   * Keep an exemplar per bucket of each series (OpenMetrics output):
   * `observe({ labels, value, exemplarLabels })`, as prom-client's; every object passed to
   * `observe` is then that form. Default false.
   */
  enableExemplars?: boolean;
}

export interface HistogramDefinition extends BaseDefinition {
  readonly buckets: number[];
  readonly striped: Striping;
  /** Present (true) only when enabled, so definitions without it keep their signature. */
  readonly enableExemplars?: true;
}

/** prom-client's `observe` argument with exemplars (`enableExemplars: true`). */
export interface ObserveDataWithExemplar<T extends string = string> {
  labels?: LabelValues<T>;
  value: number;
  exemplarLabels?: Record<string, string | number>;
}

/** One series of a histogram. Observed values are finite numbers; anything else throws InvalidValueError and records nothing. */
export interface HistogramSeries {
  observe(value: number): void;
  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number;
}

const KEYS = [...BASE_KEYS, 'buckets', 'striped', 'enableExemplars'];

export function defineHistogram(options: unknown, internal = false): HistogramDefinition {
  const { o, base } = defineBase(options, KEYS, ['le'], internal);
  const def = { ...base, buckets: checkBuckets(o.buckets), striped: checkStriping(o) };
  return checkBool(o, 'enableExemplars') ? { ...def, enableExemplars: true } : def;
}

/** A series' startTimer(): the returned function observes the seconds elapsed and returns them. */
function timerOf(series: HistogramSeries): () => number {
  const t0 = performance.now();
  return () => {
    const s = (performance.now() - t0) / 1000;
    series.observe(s);
    return s;
  };
}

class SharedSeries implements HistogramSeries {
  constructor(
    private readonly ops: MetricOps,
    private readonly bounds: Float64Array,
    private readonly sum: number,
    private readonly metric: string,
    readonly dataOffset: number,
  ) {}
  observe(v: number): void {
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.metric, v, 'must be a finite number');
    this.ops.histObserveShared(this.dataOffset + bucketIndex(this.bounds, v) * 8, this.sum, v);
  }
  startTimer(): () => number {
    return timerOf(this);
  }
}

class OwnedSeries implements HistogramSeries {
  constructor(
    private readonly ops: MetricOps,
    private readonly bounds: Float64Array,
    private readonly low: number,
    private readonly high: number,
    // Not readonly: retireStripe() points it at the shared sum.
    private sum: number,
    private readonly metric: string,
    readonly dataOffset: number,
  ) {}
  /**
   * @internal Its stripe is being handed back: it becomes a SharedSeries in place. Every
   * field SharedSeries reads is here already, with the same meaning except `sum`, which is
   * pointed at the shared sum cell (field B of the shared block, right after the B bucket
   * cells) before the prototype changes. observe() stays free of any check.
   */
  retireStripe(): void {
    this.sum = this.dataOffset + (this.bounds.length + 1) * 8;
    Object.setPrototypeOf(this, SharedSeries.prototype);
  }
  observe(v: number): void {
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.metric, v, 'must be a finite number');
    const i = bucketIndex(this.bounds, v);
    this.ops.histObserveOwned(this.low + i * 4, this.high + i * 8, this.sum, v);
  }
  startTimer(): () => number {
    return timerOf(this);
  }
}

/**
 * What the adaptive children of one histogram share in one thread, kept once per metric
 * instead of in every child (each field of a child costs 8 bytes in every thread that
 * caches it). `sumAt`: bytes from a series' or a stripe's first bucket cell to its sum
 * (the B bucket cells come first); `stripe`: the owned stripe slot the children were made
 * under (see histogramCells).
 */
interface AdaptiveContext {
  readonly ops: MetricOps;
  readonly bounds: Float64Array;
  readonly adaptive: AdaptiveCells;
  readonly stripe: number;
  readonly metric: string;
  readonly highOffset: number;
  readonly sumAt: number;
}

/**
 * A series of an adaptive histogram (adaptive-cells.ts). `low` is where it writes, as in
 * counter.ts's AdaptiveIntSeries: -1 the base cells, probing (the sum's CAS); -2 the base
 * cells, probing no more; otherwise its own stripe's first low word (its first high word
 * `ctx.highOffset` on). `sum` is the sum cell it writes: the base sum, or its stripe's once
 * inflated. Four fields: the rest is the metric's (AdaptiveContext).
 */
class AdaptiveSeries implements HistogramSeries {
  private low: number;
  private sum: number;
  constructor(
    private readonly ctx: AdaptiveContext,
    readonly dataOffset: number,
  ) {
    this.low = ctx.stripe < 0 ? -2 : -1;
    this.sum = dataOffset + ctx.sumAt;
  }
  /** @internal Its stripe is being handed back: the base cells from now on. */
  retireStripe(): void {
    this.low = -2;
    this.sum = this.dataOffset + this.ctx.sumAt;
  }
  observe(v: number): void {
    const ctx = this.ctx;
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(ctx.metric, v, 'must be a finite number');
    const i = bucketIndex(ctx.bounds, v);
    const low = this.low;
    if (low >= 0) ctx.ops.histObserveOwned(low + i * 4, low + ctx.highOffset + i * 8, this.sum, v);
    else if (low !== -1) ctx.ops.histObserveShared(this.dataOffset + i * 8, this.sum, v);
    else if (ctx.ops.histObserveBase(this.dataOffset + i * 8, this.sum, v) !== 0) this.contended();
  }
  startTimer(): () => number {
    return timerOf(this);
  }
  private contended(): void {
    const ctx = this.ctx;
    const at = ctx.adaptive.stripeOf(this.dataOffset, ctx.stripe);
    if (at === 0) {
      this.low = -2;
      return;
    }
    this.sum = at + ctx.highOffset + ctx.sumAt;
    this.low = at;
  }
}

// With exemplars, one slot per bucket after the cells (exemplars.ts); each bucket of a read carries its own.
function histogramSpec(registry: RegistryCore, def: HistogramDefinition): SeriesSpec<HistogramSeries> {
  const spec = histogramCells(registry, def);
  if (def.enableExemplars !== true) return spec;
  const at = alignUp(spec.bytes, 8);
  const B = def.buckets.length + 1;
  const { i32, u8 } = registry.views;
  const m = registry.ops.metrics;
  return {
    ...spec,
    bytes: at + B * EXEMPLAR_SLOT,
    read(dataOffset) {
      const v = spec.read(dataOffset) as HistogramValue;
      const buckets = v.buckets.map((b, i) => {
        const exemplar = readExemplar(i32, u8, m, dataOffset + at + i * EXEMPLAR_SLOT);
        return exemplar === undefined ? b : { ...b, exemplar };
      });
      return { ...v, buckets };
    },
  };
}

function histogramCells(registry: RegistryCore, def: HistogramDefinition): SeriesSpec<HistogramSeries> {
  const B = def.buckets.length + 1;
  const adaptive = def.striped === 'adaptive' ? new AdaptiveCells(registry, def.name, B + 1) : undefined;
  const geometry = setGeometry(B + 1, def.striped === true, registry.stripes);
  const bounds = Float64Array.from(def.buckets);
  const m = registry.ops.metrics;
  const cells: CellOps = registry.ops.cells;
  const les = [...def.buckets, Infinity];
  const buffer = registry.views.i32.buffer;
  // The stripes a read sums for a series: none, the striped geometry's, or an adaptive
  // series' block (read once per read of the series: adaptive-cells.ts says why that is enough).
  const stripesOf = (dataOffset: number): { first: number; highOffset: number; stride: number; stripes: number } | undefined => {
    if (geometry.striped) return { first: dataOffset + geometry.sharedBlockBytes, highOffset: geometry.highOffset, stride: geometry.stride, stripes: geometry.stripes };
    if (adaptive === undefined) return undefined;
    const b = adaptive.block(dataOffset);
    const g = adaptive.geometry;
    return b === 0 ? undefined : { first: b, highOffset: g.highOffset, stride: g.stride, stripes: g.stripes };
  };
  type Stripes = ReturnType<typeof stripesOf>;
  // The adaptive children's context (AdaptiveSeries), made at the first child.
  let actx: AdaptiveContext | undefined;
  // Field i's total: its shared cell, plus its cell in every stripe there is.
  const count = (dataOffset: number, s: Stripes, i: number): number =>
    s === undefined ? cells.readShared(dataOffset + i * 8) : cells.readStriped(dataOffset + i * 8, s.first + i * 4, s.first + s.highOffset + i * 8, s.stride, s.stripes);
  const count64 = (dataOffset: number, s: Stripes, i: number): bigint =>
    s === undefined ? cells.readShared64(dataOffset + i * 8) : cells.readStriped64(dataOffset + i * 8, s.first + i * 4, s.first + s.highOffset + i * 8, s.stride, s.stripes);
  // The buckets as exact u64s, cumulative, wrapping at 2^64 like the cells.
  const exactBuckets = (dataOffset: number, s = stripesOf(dataOffset)): { buckets: { le: number; count: bigint }[]; count: bigint } => {
    const buckets: { le: number; count: bigint }[] = [];
    let total = 0n;
    for (let i = 0; i < B; i++) {
      total += count64(dataOffset, s, i);
      buckets.push({ le: les[i]!, count: BigInt.asUintN(64, total) });
    }
    return { buckets, count: BigInt.asUintN(64, total) };
  };
  const readSum = (dataOffset: number, s = stripesOf(dataOffset)): number => {
    const at = dataOffset + B * 8;
    return s === undefined ? m.gaugeGet(at) : m.f64SumStriped(at, s.first + s.highOffset + B * 8, s.stride, s.stripes);
  };
  return {
    bytes: adaptive === undefined ? geometry.dataBytes : adaptive.geometry.bytes,
    ...(adaptive === undefined ? {} : { adaptive }),
    tally(dataOffset) {
      return Number(exactBuckets(dataOffset).count);
    },
    // The sum first, then the buckets, as a read takes them; each shared cell set to minus
    // its stripes (zeroing.ts).
    zero(dataOffset) {
      const s = stripesOf(dataOffset);
      zeroF64(m, dataOffset + B * 8, s === undefined ? undefined : { first: s.first + s.highOffset + B * 8, stride: s.stride, stripes: s.stripes });
      for (let i = 0; i < B; i++) {
        zeroU64(buffer, dataOffset + i * 8, s === undefined ? undefined : { firstLow: s.first + i * 4, firstHigh: s.first + s.highOffset + i * 8, stride: s.stride, stripes: s.stripes });
      }
    },
    make(dataOffset) {
      // Read at make time, as for counters: a series made after the stripe was handed back is shared.
      if (adaptive !== undefined) {
        const stripe = registry.ownedStripe(true);
        if (actx === undefined || actx.stripe !== stripe) {
          actx = { ops: m, bounds, adaptive, stripe, metric: def.name, highOffset: adaptive.geometry.highOffset, sumAt: B * 8 };
        }
        return new AdaptiveSeries(actx, dataOffset);
      }
      const stripe = registry.ownedStripe(def.striped === true);
      if (stripe < 0) return new SharedSeries(m, bounds, dataOffset + B * 8, def.name, dataOffset);
      const mine = cellAddresses(geometry, dataOffset, 0, stripe);
      return new OwnedSeries(m, bounds, mine.low, mine.high, cellAddresses(geometry, dataOffset, B, stripe).high, def.name, dataOffset);
    },
    read(dataOffset): HistogramValue {
      // The sum first, then the buckets: the header says why this order bounds the read.
      const s = stripesOf(dataOffset);
      const sum = readSum(dataOffset, s);
      // Counts are summed as numbers while they stay below 2^53 (a number read returns -1
      // above): one BigInt per bucket instead of the four of a 64-bit read and sum, which
      // were most of a scrape of many histograms. Past 2^53, the buckets are read again
      // as exact u64s (still after the sum, so the order above holds).
      const buckets: { le: number; count: bigint }[] = [];
      let total = 0;
      for (let i = 0; i < B; i++) {
        const c = count(dataOffset, s, i);
        if (c < 0 || total + c > Number.MAX_SAFE_INTEGER) {
          const exact = exactBuckets(dataOffset, s);
          return { buckets: exact.buckets, sum, count: exact.count };
        }
        total += c;
        buckets.push({ le: les[i]!, count: BigInt(total) });
      }
      return { buckets, sum, count: BigInt(total) };
    },
  };
}

/**
 * A histogram shared by every thread (`registry.histogram({ name, help, labelNames, buckets })`),
 * with prom-client's call shapes: `observe(0.2)`, `observe({ route: '/a' }, 0.2)`,
 * `startTimer(labels?)` (whose end function takes more labels, observes the seconds and
 * returns them), `labels(...)`; plus `quantile(q, labels?)` estimated from the buckets.
 */
export class HistogramMetric<T extends string = string> extends Metric<HistogramSeries, T> {
  readonly type = 'histogram' as const;
  /** The finite upper bounds (+Inf is implicit). */
  readonly buckets: readonly number[];
  /** How each series is striped per thread: always (true), never (false), or once contended ('adaptive', the default). */
  readonly striped: Striping;

  /** @internal */
  constructor(registry: RegistryCore, def: HistogramDefinition, familyData: number, spec: SeriesSpec<HistogramSeries>) {
    super(registry, def, familyData, spec);
    this.buckets = Object.freeze([...def.buckets]);
    this.striped = def.striped;
    this.enableExemplars = def.enableExemplars === true;
    this.exemplarAt = this.enableExemplars ? spec.bytes - (def.buckets.length + 1) * EXEMPLAR_SLOT : -1;
    this.bounds = Float64Array.from(def.buckets);
  }

  /** Whether each bucket of each series keeps an exemplar (`observe({ labels, value, exemplarLabels })`). */
  readonly enableExemplars: boolean;
  // Bytes from a series' cells to its first exemplar slot, or -1.
  private readonly exemplarAt: number;
  private readonly bounds: Float64Array;

  // prom-client's observe with exemplars: labels, value and exemplarLabels in one object.
  private observeWithExemplar(d: ObserveDataWithExemplar<T>, extra: unknown): void {
    if (extra !== undefined) throw new InvalidLabelsError(this.name, 'with enableExemplars, observe takes one object: observe({ labels, value, exemplarLabels })');
    for (const k of Object.keys(d)) {
      if (k !== 'labels' && k !== 'value' && k !== 'exemplarLabels') throw new InvalidLabelsError(this.name, `with enableExemplars, observe takes { labels, value, exemplarLabels }; got the key ${JSON.stringify(k)}`);
    }
    const encoded = d.exemplarLabels === undefined ? undefined : encodeExemplarLabels(this.name, d.exemplarLabels);
    const child = this.series(d.labels) as HistogramSeries & { dataOffset: number };
    child.observe(d.value);
    if (encoded === undefined) return;
    const slot = child.dataOffset + this.exemplarAt + bucketIndex(this.bounds, d.value) * EXEMPLAR_SLOT;
    writeExemplar(this.registry.views.i32, this.registry.views.u8, this.registry.ops.metrics, slot, encoded, d.value);
  }

  observe(data: ObserveDataWithExemplar<T>): void;
  observe(labels: LabelValues<T> | number, value?: number): void;
  observe(labels: LabelValues<T> | number | ObserveDataWithExemplar<T>, value?: number): void {
    if (typeof labels === 'object' && labels !== null) {
      if (this.exemplarAt >= 0) {
        this.observeWithExemplar(labels as ObserveDataWithExemplar<T>, value);
        return;
      }
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
   * The q-quantile (0 <= q <= 1) of the series for `labels`, estimated from its buckets
   * like Prometheus' histogram_quantile (linear interpolation inside the bucket that holds
   * the rank). The true quantile lies in that bucket, so the error is at most its width,
   * except in the first bucket, whose lower edge is taken as 0 (or, with a first bound
   * <= 0, whose bound is returned): observations below that edge (negative ones, say)
   * can lie any distance below the estimate. A rank in the +Inf bucket gives the largest
   * finite bound. NaN with no observations. Reading never creates a series.
   */
  quantile(q: number, labels?: LabelValues<T>): number {
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) throw new InvalidOptionsError('q', `must be a number from 0 to 1, got ${String(q)}`);
    const v = this.existing(labels, (at) => this.spec.read(at) as HistogramValue);
    if (v === undefined) return NaN;
    return quantileFromBuckets(q, this.buckets, v.buckets.map((b) => b.count));
  }

  /** prom-client's MetricObject: per series `_bucket` values (cumulative, with `le`), then `_sum` and `_count`. */
  async get(): Promise<MetricObject> {
    const values: MetricValue[] = [];
    for (const s of this.readAll()) {
      const h = s.value as HistogramValue;
      for (const b of h.buckets) {
        values.push({ labels: { ...s.labels, le: b.le === Infinity ? '+Inf' : b.le }, value: Number(b.count), metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels }, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: Number(h.count), metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** The histogram metrics' kind. */
export const histogramKind = {
  name: 'histogram',
  code: 8,
  dataBytes: checkedByMetric,
  threadEnded: reapFamily,
  collector: new FamilyCollector((registry, definition): HistogramMetric => histogramKind.open(registry, definition, true)),

  /** The body of `StatsRegistry.histogram`; `internal`: the package's own families (see defineBase). */
  open<T extends string = string>(registry: RegistryCore, options: unknown, internal = false): HistogramMetric<T> {
    return openMetric(registry, histogramKind, defineHistogram(options, internal), histogramSpec, HistogramMetric<T>);
  },
} satisfies Kind;
