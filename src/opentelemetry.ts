/*
 * atomic-stats/opentelemetry: reports a registry through observable instruments on an
 * OpenTelemetry Meter.
 *
 * Each family of `registry.collect()` gets one instrument: counters an ObservableCounter
 * (cumulative totals, monotonic), gauges an ObservableGauge. All of them are observed by
 * ONE batch callback, so a collection reads the shared memory once (one registry.collect)
 * and reports a consistent-as-possible set of points; nothing is sent to any worker.
 * Instrument names are the family names without the Prometheus `_total` suffix (an
 * OpenTelemetry Prometheus exporter adds it back); attributes are the families' labels.
 *
 * Entries created later: a collection that finds families without an instrument creates
 * them and re-registers the batch callback after it returns, so they are reported from
 * the next collection on; `sync()` does it at once.
 *
 * Values: the OpenTelemetry API takes JS numbers, so a counter above 2^53 is reported
 * rounded to the nearest double (what an OTLP double point holds; an int64 point could not
 * hold a u64 above 2^63 either). The exact value is `snapshotBigInt()`'s.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { CollectOptions, MetricFamily, StatsRegistry } from './index.js';

export type OpenTelemetryOptions = CollectOptions;

export interface OpenTelemetryExport {
  /** Creates instruments for entries that appeared since the last collection or sync. */
  sync(): void;
  /** Stops observing (removes the batch callback). */
  stop(): void;
  /** Instrument names created so far. */
  readonly names: readonly string[];
}

function instrumentName(f: MetricFamily): string {
  const base = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
  // OpenTelemetry names start with a letter.
  return /^[A-Za-z]/.test(base) ? base : `m${base}`;
}

export function observeAtomicStats(stats: StatsRegistry, meter: Meter, options: OpenTelemetryOptions = {}): OpenTelemetryExport {
  // family name -> its instrument and the instrument's own name
  const instruments = new Map<string, Observable>();
  const names: string[] = [];
  let stopped = false;
  let resyncQueued = false;

  const callback = (result: BatchObservableResult): void => {
    let missing = false;
    for (const f of stats.collect(options)) {
      const instrument = instruments.get(f.name);
      if (instrument === undefined) {
        missing = true;
        continue;
      }
      for (const s of f.samples) result.observe(instrument, Number(s.value), s.labels);
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
    const before = [...instruments.values()];
    let added = false;
    for (const f of stats.collect(options)) {
      if (instruments.has(f.name)) continue;
      const opts = { description: f.help };
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
      stopped = true;
      if (instruments.size > 0) meter.removeBatchObservableCallback(callback, [...instruments.values()]);
    },
    get names() {
      return [...names];
    },
  };
}
