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
 * Unstriped (the default), every thread adds to the shared cells: an atomic add on the
 * bucket and a CAS add on the sum (assembly/histogram.ts). With `striped: true` each
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
 * lacks. The other way, the count may include observations whose add to the sum the read
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
  checkBool,
  checkedByMetric, reapFamily,
  defineBase,
  negate64,
  openMetric,
} from './metric-base.js';
import type { MetricOps } from '../ops/metrics.js';
import { FamilyCollector } from './series.js';
import type { CollectOption } from '../collect-callbacks.js';

export interface HistogramConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<HistogramMetric<T>> {
  /** Upper bounds (finite, strictly increasing; +Inf is added). Default prom-client's: 0.005 … 10 (seconds). */
  buckets?: readonly number[];
  /** Give each thread its own stripe of every series; costs (stripes + 1) blocks of the bucket cells a series. Default false. */
  striped?: boolean;
  /**
   * Keep an exemplar per bucket of each series (OpenMetrics output):
   * `observe({ labels, value, exemplarLabels })`, as prom-client's; every object passed to
   * `observe` is then that form. Default false.
   */
  enableExemplars?: boolean;
}

export interface HistogramDefinition extends BaseDefinition {
  readonly buckets: number[];
  readonly striped: boolean;
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
  const def = { ...base, buckets: checkBuckets(o.buckets), striped: checkBool(o, 'striped') };
  return checkBool(o, 'enableExemplars') ? { ...def, enableExemplars: true } : def;
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
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.observe(s);
      return s;
    };
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
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.observe(s);
      return s;
    };
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
  const geometry = setGeometry(B + 1, def.striped, registry.stripes);
  const bounds = Float64Array.from(def.buckets);
  const m = registry.ops.metrics;
  const cells = registry.ops.cells;
  const les = [...def.buckets, Infinity];
  // The buckets as exact u64s, cumulative, wrapping at 2^64 like the cells.
  const exactBuckets = (dataOffset: number): { buckets: { le: number; count: bigint }[]; count: bigint } => {
    const buckets: { le: number; count: bigint }[] = [];
    let total = 0n;
    for (let i = 0; i < B; i++) {
      if (geometry.striped) {
        const a = cellAddresses(geometry, dataOffset, i, 0);
        total += cells.readStriped64(a.shared, a.low, a.high, geometry.stride, geometry.stripes);
      } else total += cells.readShared64(dataOffset + i * 8);
      buckets.push({ le: les[i]!, count: BigInt.asUintN(64, total) });
    }
    return { buckets, count: BigInt.asUintN(64, total) };
  };
  const readSum = (dataOffset: number): number => {
    const s = cellAddresses(geometry, dataOffset, B, 0);
    return geometry.striped ? m.f64SumStriped(s.shared, s.high, geometry.stride, geometry.stripes) : m.gaugeGet(s.shared);
  };
  return {
    bytes: geometry.dataBytes,
    tally(dataOffset) {
      return Number(exactBuckets(dataOffset).count);
    },
    // The sum first, then the buckets, as a read takes them; each cell's total is added
    // negated to its shared cell (metric-base.ts, "Zeroing in place").
    zero(dataOffset) {
      m.gaugeAdd(cellAddresses(geometry, dataOffset, B, 0).shared, -readSum(dataOffset));
      let previous = 0n;
      const { buckets } = exactBuckets(dataOffset);
      for (let i = 0; i < B; i++) {
        const n = negate64(buckets[i]!.count - previous);
        previous = buckets[i]!.count;
        cells.sharedAdd(cellAddresses(geometry, dataOffset, i, 0).shared, n.lo, n.hi);
      }
    },
    make(dataOffset) {
      // Read at make time, as for counters: a series made after the stripe was handed back is shared.
      const stripe = registry.ownedStripe(def.striped);
      if (stripe < 0) return new SharedSeries(m, bounds, dataOffset + B * 8, def.name, dataOffset);
      const mine = cellAddresses(geometry, dataOffset, 0, stripe);
      return new OwnedSeries(m, bounds, mine.low, mine.high, cellAddresses(geometry, dataOffset, B, stripe).high, def.name, dataOffset);
    },
    read(dataOffset): HistogramValue {
      // The sum first, then the buckets: the header says why this order bounds the read.
      const sum = readSum(dataOffset);
      // Counts are summed as numbers while they stay below 2^53 (a number read returns -1
      // above): one BigInt per bucket instead of the four of a 64-bit read and sum, which
      // were most of a scrape of many histograms. Past 2^53, the buckets are read again
      // as exact u64s (still after the sum, so the order above holds).
      const buckets: { le: number; count: bigint }[] = [];
      let total = 0;
      for (let i = 0; i < B; i++) {
        let c: number;
        if (geometry.striped) {
          const a = cellAddresses(geometry, dataOffset, i, 0);
          c = cells.readStriped(a.shared, a.low, a.high, geometry.stride, geometry.stripes);
        } else c = cells.readShared(dataOffset + i * 8);
        if (c < 0 || total + c > Number.MAX_SAFE_INTEGER) {
          const exact = exactBuckets(dataOffset);
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
  readonly striped: boolean;

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
