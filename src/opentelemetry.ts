/*
 * atomic-stats/opentelemetry: reports a registry to OpenTelemetry, two ways.
 *
 * 1. `observeAtomicStats(registry, meter)`: observable instruments on a Meter of the
 *    OpenTelemetry API (works with any SDK). Counters become ObservableCounters
 *    (monotonic; the reader's temporality is applied by the SDK, which computes deltas of
 *    observable instruments itself), gauges ObservableGauges; each has the family's unit
 *    (UCUM: `s`, `By`, `{call}`, `1` when the family has none) and `ValueType.INT` when
 *    the family's definition counts integers. All of them are observed by ONE batch
 *    callback, so a collection reads the shared memory once (one registry.collect). The
 *    API has no observable histogram, so histogram families are not reported this way:
 *    use 2. for them. A collection that finds families without an instrument creates them
 *    and re-registers the batch callback after it returns, so they are reported from the
 *    next collection on; `sync()` does it at once.
 *
 * 2. `atomicStatsMetricProducer(registry)`: a MetricProducer of @opentelemetry/sdk-metrics,
 *    given to a MetricReader with `new PeriodicExportingMetricReader({ exporter,
 *    metricProducers: [producer] })` (or any reader's `metricProducers`). It turns families
 *    straight into SDK metric data at each collection: histograms as explicit-bucket
 *    histogram points, and, with `include: 'all'`, counters as monotonic sums and gauges as
 *    gauges too, in the temporality its `temporality` option selects (the SDK does not
 *    pass the reader's to a producer: export/otel-temporality.ts), under the instrumentation
 *    scope its `scope` option names. Entries created at any time are in the very next
 *    collection (nothing to register). By default it produces the histograms only, so
 *    that it can be used alongside `observeAtomicStats` without doubling anything. It needs
 *    only the SDK's data shapes: the enum values it uses (DataPointType.HISTOGRAM = 0,
 *    GAUGE = 2, SUM = 3, AggregationTemporality DELTA = 0, CUMULATIVE = 1) are written as
 *    literals, so this module never loads the SDK itself; `@opentelemetry/sdk-metrics` is
 *    an optional peer (>= 1.16, where MetricReader gained `metricProducers`).
 *
 * Summaries are not reported either way: OpenTelemetry's metric data has no summary
 * (its Prometheus exporter has none to write), and percentiles cannot be re-aggregated
 * into its histograms. Export them through the Prometheus adapter.
 *
 * Histogram points carry no min and max: the shared buckets do not keep them (keeping them
 * would add two compare-and-swap loops on shared words to every observe(), contended by
 * every thread), and OpenTelemetry makes both optional.
 *
 * Names and attributes. Instrument names are the family names, without the Prometheus
 * `_total` of counters (an OpenTelemetry Prometheus exporter adds it back) and with any
 * `:` (legal in Prometheus, not in OpenTelemetry) as `_`; two families that map to one
 * name are resolved in export/otel-names.ts (the first keeps it, the other is skipped
 * with a warning). The built-in families (those whose name starts with the collect
 * prefix, `atomic_stats_` by default) have their labels renamed to namespaced attributes,
 * per the OpenTelemetry attribute conventions: `name` -> `atomic_stats.name`, `set` ->
 * `atomic_stats.set`, `field` -> `atomic_stats.field`, `outcome` -> `atomic_stats.outcome`,
 * `state` -> `atomic_stats.state`. Families of user metrics keep the label names their
 * author chose.
 *
 * Values: OpenTelemetry points hold JS numbers, so a counter above 2^53 is reported
 * rounded to the nearest double (an int64 point could not hold a u64 above 2^63 either).
 * The exact value is `snapshotBigInt()`'s.
 */
import type { Attributes, BatchObservableResult, HrTime, Meter, Observable } from '@opentelemetry/api';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { checkCollectOptions } from './export/options.js';
import { instrumentName, nameClaims } from './export/otel-names.js';
import { DELTA, type TemporalityOption, checkTemporality, deltaState, perBucket } from './export/otel-temporality.js';
import { InvalidOptionsError, describe } from './errors.js';
import type { CollectOptions, HistogramValue, MetricFamily, StatsRegistry } from './index.js';

export type { TemporalityOption } from './export/otel-temporality.js';

export type OpenTelemetryOptions = CollectOptions;

export interface OpenTelemetryExport {
  /** Creates instruments for entries that appeared since the last collection or sync. */
  sync(): void;
  /** Stops observing (removes the batch callback). */
  stop(): void;
  /** Instrument names created so far. */
  readonly names: readonly string[];
  /** Families not exported because another family has their instrument name (one warning each). */
  readonly skipped: readonly string[];
}

/** The instrumentation scope of the producer's metrics. */
export interface ProducerScope {
  readonly name: string;
  readonly version?: string;
  readonly schemaUrl?: string;
}

export interface MetricProducerOptions extends CollectOptions {
  /** `'histograms'` (default): histogram families only. `'all'`: every family. */
  readonly include?: 'histograms' | 'all';
  /**
   * The temporality of the points, as the reader that collects this producer selects it:
   * the reader's `aggregationTemporalitySelector`, its exporter (anything with
   * `selectAggregationTemporality`), or one AggregationTemporality. Default: CUMULATIVE.
   * With DELTA for any kind the producer keeps what it reported last: give each reader
   * its own producer.
   */
  readonly temporality?: TemporalityOption;
  /**
   * The instrumentation scope of the metrics: a name, or `{ name, version?, schemaUrl? }`
   * (e.g. your Meter's, to have the histograms beside observeAtomicStats' counters).
   * Default: `{ name: 'atomic-stats' }`.
   */
  readonly scope?: string | ProducerScope;
}

/** The producer: a MetricProducer, plus what its name checks left out. */
export interface AtomicStatsMetricProducer extends MetricProducer {
  /** Families not produced because another family has their instrument name (one warning each). */
  readonly skipped: readonly string[];
}

// ValueType of @opentelemetry/api (a numeric enum, stable since 1.0).
const INT = 0;
const DOUBLE = 1;

// A family from a custom collect() may leave `integer` out: then its values tell. Ours
// always say, from the definition (an integer counter is INT even before it has a series).
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
  const claims = nameClaims();
  // family name -> its instrument
  const instruments = new Map<string, Observable>();
  const names: string[] = [];
  let stopped = false;
  let resyncQueued = false;

  const callback = (result: BatchObservableResult): void => {
    let missing = false;
    for (const f of stats.collect(collectOptions)) {
      // Every family claims its name, histograms too (see export/otel-names.ts).
      if (!claims.claim(f) || f.type === 'histogram' || f.type === 'summary') continue;
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
      if (!claims.claim(f) || f.type === 'histogram' || f.type === 'summary' || instruments.has(f.name)) continue;
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
    get skipped() {
      return claims.skipped;
    },
  };
}

function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

const SCOPE_KEYS = ['name', 'version', 'schemaUrl'] as const;

function checkScope(scope: unknown): ProducerScope {
  if (scope === undefined) return { name: 'atomic-stats' };
  if (typeof scope === 'string' && scope !== '') return { name: scope };
  if (scope !== null && typeof scope === 'object' && !Array.isArray(scope)) {
    const o = scope as Record<string, unknown>;
    const unknown = Object.keys(o).find((k) => !(SCOPE_KEYS as readonly string[]).includes(k));
    if (unknown !== undefined) throw new InvalidOptionsError('scope', `unknown key ${JSON.stringify(unknown)} (known: ${SCOPE_KEYS.join(', ')})`);
    if (typeof o.name !== 'string' || o.name === '') throw new InvalidOptionsError('scope', `name must be a non-empty string, got ${describe(o.name)}`);
    const out: { name: string; version?: string; schemaUrl?: string } = { name: o.name };
    for (const k of ['version', 'schemaUrl'] as const) {
      if (o[k] === undefined) continue;
      if (typeof o[k] !== 'string') throw new InvalidOptionsError('scope', `${k} must be a string, got ${describe(o[k])}`);
      out[k] = o[k];
    }
    return Object.freeze(out);
  }
  throw new InvalidOptionsError('scope', `must be a non-empty string or { name, version?, schemaUrl? }, got ${describe(scope)}`);
}

/**
 * A MetricProducer for @opentelemetry/sdk-metrics' `metricProducers` (see the module header):
 * histogram families by default, every family with `include: 'all'`, in the temporality
 * of the `temporality` option, under the instrumentation scope of the `scope` option.
 */
export function atomicStatsMetricProducer(stats: StatsRegistry, options?: MetricProducerOptions): AtomicStatsMetricProducer {
  const { prefix, buses } = checkCollectOptions(options, ['include', 'temporality', 'scope']);
  const o = (options ?? {}) as Record<string, unknown>;
  const include = o.include ?? 'histograms';
  if (include !== 'histograms' && include !== 'all') {
    throw new InvalidOptionsError('include', `must be 'histograms' or 'all', got ${describe(include)}`);
  }
  const temporality = checkTemporality(o.temporality);
  const scope = checkScope(o.scope);
  const collectOptions: CollectOptions = { prefix, buses };
  const attributes = attributeMapper(prefix);
  const claims = nameClaims();
  const startTime = hrNow();
  // Delta state (export/otel-temporality.ts): this producer's last values, and when it
  // took them.
  const deltas = deltaState();
  let previousEnd = startTime;
  return {
    collect: async (): Promise<CollectionResult> => {
      const endTime = hrNow();
      const metrics: MetricData[] = [];
      const errors: unknown[] = [];
      for (const f of stats.collect(collectOptions)) {
        // Every family claims its name, the ones left out by `include` too (export/otel-names.ts).
        if (!claims.claim(f) || (include === 'histograms' && f.type !== 'histogram') || f.type === 'summary') continue;
        const t = temporality[f.type];
        const start = t === DELTA ? previousEnd : startTime;
        const descriptor = { name: instrumentName(f), description: f.help, unit: f.unit ?? '1', valueType: f.type === 'histogram' ? DOUBLE : isInteger(f) ? INT : DOUBLE };
        try {
          if (f.type === 'histogram') {
            const dataPoints = f.samples.map((s) => {
              const h = s.value as HistogramValue;
              const buckets = perBucket(h);
              const v = t === DELTA ? deltas.histogram(f.name, s.labels, buckets, h.sum, h.count) : { counts: buckets.counts, sum: h.sum, count: h.count };
              const value = { buckets: { boundaries: buckets.boundaries, counts: v.counts.map(Number) }, sum: v.sum, count: Number(v.count) };
              return { startTime: start, endTime, attributes: attributes(f, s.labels), value };
            });
            metrics.push({ descriptor, aggregationTemporality: t, dataPointType: 0, dataPoints } as unknown as MetricData);
          } else if (f.type === 'counter') {
            const dataPoints = f.samples.map((s) => {
              const v = s.value as bigint | number;
              return { startTime: start, endTime, attributes: attributes(f, s.labels), value: t === DELTA ? deltas.sum(f.name, s.labels, v) : Number(v) };
            });
            metrics.push({ descriptor, aggregationTemporality: t, dataPointType: 3, isMonotonic: true, dataPoints } as unknown as MetricData);
          } else {
            // A gauge's value is its value in either temporality.
            const dataPoints = f.samples.map((s) => ({ startTime: start, endTime, attributes: attributes(f, s.labels), value: Number(s.value) }));
            metrics.push({ descriptor, aggregationTemporality: t, dataPointType: 2, dataPoints } as unknown as MetricData);
          }
        } catch (err) {
          errors.push(err);
        }
      }
      previousEnd = endTime;
      // The reader keeps its own Resource and reads only scopeMetrics and errors from a producer.
      return { resourceMetrics: { resource: undefined as never, scopeMetrics: [{ scope, metrics }] }, errors };
    },
    get skipped() {
      return claims.skipped;
    },
  };
}
