/*
 * atomic-stats/opentelemetry: reports a registry to OpenTelemetry, two ways.
 *
 * 1. `observeAtomicStats(registry, meter)`: observable instruments on a Meter of the
 *    OpenTelemetry API (works with any SDK). Counters become ObservableCounters
 *    (cumulative, monotonic), gauges ObservableGauges; each has the family's unit (UCUM:
 *    `s`, `By`, `{call}`, `1` when the family has none) and `ValueType.INT` when its values
 *    are integer counts. All of them are observed by ONE batch callback, so a collection
 *    reads the shared memory once (one registry.collect). The API has no observable
 *    histogram, so histogram families are not reported this way: use 2. for them.
 *    A collection that finds families without an instrument creates them and re-registers
 *    the batch callback after it returns, so they are reported from the next collection on;
 *    `sync()` does it at once.
 *
 * 2. `atomicStatsMetricProducer(registry)`: a MetricProducer of @opentelemetry/sdk-metrics,
 *    given to a MetricReader with `new PeriodicExportingMetricReader({ exporter,
 *    metricProducers: [producer] })` (or any reader's `metricProducers`). It turns families
 *    straight into SDK metric data at each collection: histograms as explicit-bucket
 *    histogram points (OpenTelemetry bucket counts are per bucket, so the cumulative
 *    Prometheus-style counts are differenced), and, with `include: 'all'`, counters as
 *    monotonic cumulative sums and gauges as gauges too. Entries created at any time are in
 *    the very next collection (nothing to register). By default it produces the histograms
 *    only, so that it can be used alongside `observeAtomicStats` without doubling anything.
 *    It needs only the SDK's data shapes: the enum values it uses (DataPointType.HISTOGRAM
 *    = 0, GAUGE = 2, SUM = 3, AggregationTemporality.CUMULATIVE = 1) are written as
 *    literals, so this module never loads the SDK itself; `@opentelemetry/sdk-metrics` is
 *    an optional peer (>= 1.16, where MetricReader gained `metricProducers`).
 *
 * Names and attributes. Instrument names are the family names, without the Prometheus
 * `_total` of counters (an OpenTelemetry Prometheus exporter adds it back) and with any
 * `:` (legal in Prometheus, not in OpenTelemetry) as `_`. The built-in families (those
 * whose name starts with the collect prefix, `atomic_stats_` by default) have their labels
 * renamed to namespaced attributes, per the OpenTelemetry attribute conventions:
 * `name` -> `atomic_stats.name`, `set` -> `atomic_stats.set`, `field` -> `atomic_stats.field`,
 * `outcome` -> `atomic_stats.outcome`, `state` -> `atomic_stats.state`. Families of user
 * metrics keep the label names their author chose.
 *
 * Values: OpenTelemetry points hold JS numbers, so a counter above 2^53 is reported
 * rounded to the nearest double (an int64 point could not hold a u64 above 2^63 either).
 * The exact value is `snapshotBigInt()`'s.
 */
import type { Attributes, BatchObservableResult, HrTime, Meter, Observable } from '@opentelemetry/api';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { checkCollectOptions } from './export/options.js';
import { InvalidOptionsError, describe } from './errors.js';
import type { CollectOptions, HistogramValue, MetricFamily, StatsRegistry } from './index.js';
import { checkOptionsObject } from './validate.js';

export type OpenTelemetryOptions = CollectOptions;

export interface OpenTelemetryExport {
  /** Creates instruments for entries that appeared since the last collection or sync. */
  sync(): void;
  /** Stops observing (removes the batch callback). */
  stop(): void;
  /** Instrument names created so far. */
  readonly names: readonly string[];
}

export interface MetricProducerOptions extends CollectOptions {
  /** `'histograms'` (default): histogram families only. `'all'`: every family. */
  readonly include?: 'histograms' | 'all';
}

// ValueType of @opentelemetry/api (a numeric enum, stable since 1.0).
const INT = 0;
const DOUBLE = 1;

function instrumentName(f: Pick<MetricFamily, 'name' | 'type'>): string {
  const base = (f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name).replace(/:/g, '_');
  // OpenTelemetry names start with a letter.
  return /^[A-Za-z]/.test(base) ? base : `m${base}`;
}

const isInteger = (f: MetricFamily): boolean => f.integer ?? (f.samples.length > 0 && typeof f.samples[0]!.value === 'bigint');

/** Attribute objects for label objects, per built-in-ness (built-in label objects are stable, so this caches well). */
function attributeMapper(prefix: string): (f: MetricFamily, labels: Readonly<Record<string, string>>) => Attributes {
  const mapped = new WeakMap<object, Attributes>();
  return (f, labels) => {
    if (prefix === '' ? false : !f.name.startsWith(prefix)) return labels;
    let a = mapped.get(labels);
    if (a === undefined) {
      a = {};
      for (const k of Object.keys(labels)) a[`atomic_stats.${k}`] = labels[k];
      mapped.set(labels, a);
    }
    return a;
  };
}

export function observeAtomicStats(stats: StatsRegistry, meter: Meter, options?: OpenTelemetryOptions): OpenTelemetryExport {
  const { prefix, buses } = checkCollectOptions(options);
  if (meter === null || typeof meter !== 'object' || typeof meter.createObservableCounter !== 'function') {
    throw new InvalidOptionsError('meter', `must be an OpenTelemetry Meter, got ${describe(meter)}`);
  }
  const collectOptions: CollectOptions = { prefix, buses };
  const attributes = attributeMapper(prefix);
  // family name -> its instrument
  const instruments = new Map<string, Observable>();
  const names: string[] = [];
  let stopped = false;
  let resyncQueued = false;

  const callback = (result: BatchObservableResult): void => {
    let missing = false;
    for (const f of stats.collect(collectOptions)) {
      if (f.type === 'histogram') continue;
      const instrument = instruments.get(f.name);
      if (instrument === undefined) {
        missing = true;
        continue;
      }
      for (const s of f.samples) result.observe(instrument, Number(s.value), attributes(f, s.labels));
    }
    if (missing && !resyncQueued) {
      resyncQueued = true;
      queueMicrotask(() => {
        resyncQueued = false;
        if (!stopped) sync();
      });
    }
  };

  const sync = (): void => {
    if (stopped) return;
    const before = [...instruments.values()];
    let added = false;
    for (const f of stats.collect(collectOptions)) {
      if (f.type === 'histogram' || instruments.has(f.name)) continue;
      const opts = { description: f.help, unit: f.unit ?? '1', valueType: isInteger(f) ? INT : DOUBLE };
      const name = instrumentName(f);
      names.push(name);
      instruments.set(f.name, f.type === 'counter' ? meter.createObservableCounter(name, opts) : meter.createObservableGauge(name, opts));
      added = true;
    }
    if (!added) return;
    if (before.length > 0) meter.removeBatchObservableCallback(callback, before);
    meter.addBatchObservableCallback(callback, [...instruments.values()]);
  };

  sync();
  return {
    sync,
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (instruments.size > 0) meter.removeBatchObservableCallback(callback, [...instruments.values()]);
    },
    get names() {
      return [...names];
    },
  };
}

function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** Explicit-bucket OpenTelemetry histogram value from cumulative `le` buckets. */
function toOtelHistogram(h: HistogramValue): { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number } {
  const boundaries: number[] = [];
  const counts: number[] = [];
  let previous = 0n;
  for (const b of h.buckets) {
    if (b.le !== Infinity) boundaries.push(b.le);
    // Cumulative counts are read bucket by bucket while other threads observe, so a later
    // bucket can be read before an observation reaches it: never report a negative count.
    const c = b.count > previous ? b.count - previous : 0n;
    counts.push(Number(c));
    if (b.count > previous) previous = b.count;
  }
  if (h.buckets.length === 0 || h.buckets[h.buckets.length - 1]!.le !== Infinity) counts.push(0);
  return { buckets: { boundaries, counts }, sum: h.sum, count: Number(h.count) };
}

/**
 * A MetricProducer for @opentelemetry/sdk-metrics' `metricProducers` (see the module header):
 * histogram families by default, every family with `include: 'all'`.
 */
export function atomicStatsMetricProducer(stats: StatsRegistry, options?: MetricProducerOptions): MetricProducer {
  const { prefix, buses } = checkCollectOptions(options, ['include']);
  const include = checkOptionsObject(options, ['prefix', 'buses', 'include'], 'options').include ?? 'histograms';
  if (include !== 'histograms' && include !== 'all') {
    throw new InvalidOptionsError('include', `must be 'histograms' or 'all', got ${describe(include)}`);
  }
  const collectOptions: CollectOptions = { prefix, buses };
  const attributes = attributeMapper(prefix);
  const startTime = hrNow();
  const scope = { name: 'atomic-stats' };
  return {
    collect: async (): Promise<CollectionResult> => {
      const endTime = hrNow();
      const metrics: MetricData[] = [];
      const errors: unknown[] = [];
      for (const f of stats.collect(collectOptions)) {
        if (include === 'histograms' && f.type !== 'histogram') continue;
        const descriptor = { name: instrumentName(f), description: f.help, unit: f.unit ?? '1', valueType: f.type === 'histogram' ? DOUBLE : isInteger(f) ? INT : DOUBLE };
        try {
          if (f.type === 'histogram') {
            const dataPoints = f.samples.map((s) => ({ startTime, endTime, attributes: attributes(f, s.labels), value: toOtelHistogram(s.value as HistogramValue) }));
            metrics.push({ descriptor, aggregationTemporality: 1, dataPointType: 0, dataPoints } as unknown as MetricData);
          } else {
            const dataPoints = f.samples.map((s) => ({ startTime, endTime, attributes: attributes(f, s.labels), value: Number(s.value) }));
            metrics.push(
              (f.type === 'counter'
                ? { descriptor, aggregationTemporality: 1, dataPointType: 3, isMonotonic: true, dataPoints }
                : { descriptor, aggregationTemporality: 1, dataPointType: 2, dataPoints }) as unknown as MetricData,
            );
          }
        } catch (err) {
          errors.push(err);
        }
      }
      // The reader keeps its own Resource and reads only scopeMetrics and errors from a producer.
      return { resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope, metrics }] }, errors };
    },
  };
}
