/*
 * Aggregation temporality for the OpenTelemetry MetricProducer.
 *
 * Which temporality. An SDK reader chooses a temporality per instrument kind (its
 * `aggregationTemporalitySelector`, or its exporter's `selectAggregationTemporality`), and
 * applies it to the SDK's own instruments. It does not pass it to the extra producers of
 * its `metricProducers`: `MetricProducer.collect(options)` receives a timeout only, and no
 * reference to the reader that calls it. So the producer is told, once, by the option
 * `temporality`: the reader's selector, its exporter, or one temporality for every kind.
 * Our families are read as running totals at each collection, as an asynchronous
 * instrument's callback reads them, so a counter family is asked for as
 * OBSERVABLE_COUNTER and a gauge as OBSERVABLE_GAUGE (what observeAtomicStats creates for
 * them, so both paths export a counter with the same temporality), and a histogram as
 * HISTOGRAM (the API has no observable histogram). A selector must be pure (the SDK's own
 * rule): it is asked once, when the producer is made.
 *
 * Delta state. The shared memory holds cumulative counts only. A delta is the difference
 * from the values this producer reported at its previous collection, so each producer
 * keeps, per series, what it reported last: a producer feeds one reader, and two readers
 * (say one DELTA, one CUMULATIVE) each get a producer of their own. Cumulative output
 * keeps no state and may be shared. Counts that count are bigints, so their deltas are
 * exact at any size. A value below the one reported before (the counter of a registry
 * re-created under the same name, a u64 that wrapped) restarts the series: the point is
 * the whole new value, from the previous collection on. A delta point starts where the
 * previous collection ended; a series met for the first time reports all it has counted.
 */
import type { AggregationTemporality, InstrumentType } from '@opentelemetry/sdk-metrics';
import { InvalidOptionsError, describe } from '../errors.js';
import type { HistogramValue, MetricType } from '../family.js';

// AggregationTemporality of @opentelemetry/sdk-metrics (a numeric enum, stable since 1.0),
// written as literals so that this module never loads the SDK.
export const DELTA = 0;
export const CUMULATIVE = 1;

/**
 * What the producer's `temporality` option takes: an AggregationTemporality for every
 * kind, a selector `(instrumentType) => AggregationTemporality` (a reader's
 * `aggregationTemporalitySelector`), or anything with a `selectAggregationTemporality`
 * method (an exporter, a reader).
 */
export type TemporalityOption =
  | AggregationTemporality
  | ((instrumentType: InstrumentType) => AggregationTemporality)
  | { selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality };

/** The family types OpenTelemetry gets (a summary has no OpenTelemetry counterpart: opentelemetry.ts). */
export type OtelType = Exclude<MetricType, 'summary'>;

/** The temporality of each family type. */
export type Temporalities = Readonly<Record<OtelType, typeof DELTA | typeof CUMULATIVE>>;

// The instrument kind each family type is asked for as (see the header).
const KIND: Record<OtelType, string> = { counter: 'OBSERVABLE_COUNTER', gauge: 'OBSERVABLE_GAUGE', histogram: 'HISTOGRAM' };

/** Checks the `temporality` option and asks its selector for each family type. */
export function checkTemporality(option: unknown): Temporalities {
  if (option === undefined) return { counter: CUMULATIVE, gauge: CUMULATIVE, histogram: CUMULATIVE };
  if (option === DELTA || option === CUMULATIVE) return { counter: option, gauge: option, histogram: option };
  let select: ((t: InstrumentType) => unknown) | undefined;
  if (typeof option === 'function') select = option as (t: InstrumentType) => unknown;
  else if (option !== null && typeof option === 'object' && typeof (option as { selectAggregationTemporality?: unknown }).selectAggregationTemporality === 'function') {
    const o = option as { selectAggregationTemporality(t: InstrumentType): unknown };
    select = (t) => o.selectAggregationTemporality(t);
  }
  if (select === undefined) {
    throw new InvalidOptionsError(
      'temporality',
      `must be an AggregationTemporality (DELTA or CUMULATIVE), a selector (instrumentType) => AggregationTemporality, or an exporter or reader (its selectAggregationTemporality), got ${describe(option)}`,
    );
  }
  const out = {} as Record<OtelType, typeof DELTA | typeof CUMULATIVE>;
  for (const type of Object.keys(KIND) as OtelType[]) {
    let t: unknown;
    try {
      t = select(KIND[type] as InstrumentType);
    } catch (err) {
      throw new InvalidOptionsError('temporality', `the selector threw for ${KIND[type]}: ${String(err)}`);
    }
    if (t !== DELTA && t !== CUMULATIVE) throw new InvalidOptionsError('temporality', `the selector returned ${describe(t)} for ${KIND[type]}, not DELTA (0) or CUMULATIVE (1)`);
    out[type] = t;
  }
  return out;
}

/** Per-bucket counts (OpenTelemetry's) from cumulative `le` buckets, the last for +Inf. */
export interface Buckets {
  readonly boundaries: number[];
  readonly counts: bigint[];
}

/** OpenTelemetry bucket counts are per bucket: the cumulative Prometheus-style counts are differenced. */
export function perBucket(h: HistogramValue): Buckets {
  const boundaries: number[] = [];
  const counts: bigint[] = [];
  let previous = 0n;
  for (const b of h.buckets) {
    if (b.le !== Infinity) boundaries.push(b.le);
    // Our own histograms sum per-bucket cells on read, so their cumulative counts never go
    // down; a family from elsewhere (a custom collect) might, and a count is never negative.
    counts.push(b.count > previous ? b.count - previous : 0n);
    if (b.count > previous) previous = b.count;
  }
  if (h.buckets.length === 0 || h.buckets[h.buckets.length - 1]!.le !== Infinity) counts.push(0n);
  return { boundaries, counts };
}

interface SumState {
  last: bigint | number;
}
interface HistogramState {
  counts: bigint[];
  sum: number;
  count: bigint;
}

/** A series' key within its family: its labels, in their (stable) order. */
const keyOf = (labels: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(labels));

/** What one producer reported last, per series, to turn running totals into deltas. */
export interface DeltaState {
  /** The increase of a counter series since the last call for it (all of it the first time). */
  sum(family: string, labels: Readonly<Record<string, string>>, value: bigint | number): number;
  /** The observations of a histogram series since the last call for it. */
  histogram(family: string, labels: Readonly<Record<string, string>>, buckets: Buckets, sum: number, count: bigint): { counts: bigint[]; sum: number; count: bigint };
}

export function deltaState(): DeltaState {
  const sums = new Map<string, Map<string, SumState>>();
  const histograms = new Map<string, Map<string, HistogramState>>();
  const seriesOf = <S>(m: Map<string, Map<string, S>>, family: string): Map<string, S> => {
    let f = m.get(family);
    if (f === undefined) m.set(family, (f = new Map()));
    return f;
  };
  return {
    sum(family, labels, value) {
      const series = seriesOf(sums, family);
      const key = keyOf(labels);
      const s = series.get(key);
      if (s === undefined) {
        series.set(key, { last: value });
        return Number(value);
      }
      const last = s.last;
      s.last = value;
      // Same representation (a family's values are all bigints or all numbers): exact for bigints.
      if (typeof value === 'bigint' && typeof last === 'bigint') return value >= last ? Number(value - last) : Number(value);
      const v = Number(value);
      const l = Number(last);
      return v >= l ? v - l : v;
    },
    histogram(family, labels, buckets, sum, count) {
      const series = seriesOf(histograms, family);
      const key = keyOf(labels);
      const s = series.get(key);
      series.set(key, { counts: buckets.counts, sum, count });
      if (s === undefined || s.counts.length !== buckets.counts.length || count < s.count || buckets.counts.some((c, i) => c < s.counts[i]!)) {
        return { counts: buckets.counts, sum, count };
      }
      return { counts: buckets.counts.map((c, i) => c - s.counts[i]!), sum: sum - s.sum, count: count - s.count };
    },
  };
}
