/*
 * The shape of what a collection returns: metric families and their samples, plain data
 * that the exporters (atomic-stats/prometheus, atomic-stats/opentelemetry) translate.
 * Types only, at the bottom of the export layer, so that the kinds that produce families
 * and the collector that gathers them both import this file and not each other.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** An exemplar (`enableExemplars: true`): one recent observation's labels, value and time (seconds since the epoch). */
export interface Exemplar {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: number;
}

/** One histogram series: cumulative bucket counts (ascending `le`, the last one `+Infinity`), sum and count; each bucket's exemplar when enabled. */
export interface HistogramValue {
  readonly buckets: readonly { readonly le: number; readonly count: bigint; readonly exemplar?: Exemplar }[];
  readonly sum: number;
  readonly count: bigint;
}

/** One summary series: its percentiles over the window (ascending as configured), sum and count (exact, every observation). */
export interface SummaryValue {
  readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
  readonly sum: number;
  readonly count: bigint;
}

export interface MetricSample {
  /** Label names and values. Built-in families return the same frozen object for a series at every collection. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Counters: the exact u64 as a bigint, or a number for a total converted to a base unit
   * (seconds). Gauges: a number. Histograms: a HistogramValue. Summaries: a SummaryValue.
   */
  readonly value: bigint | number | HistogramValue | SummaryValue;
  /** A counter series' exemplar, when the counter has `enableExemplars: true` and one was recorded. */
  readonly exemplar?: Exemplar;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  /** The unit, as UCUM for OpenTelemetry (`'s'`, `'By'`, `'1'`, `'{call}'`); absent when unknown. */
  readonly unit?: string;
  /** True when every value is an integer (OpenTelemetry `ValueType.INT`); absent: inferred from the values. */
  readonly integer?: boolean;
  readonly samples: MetricSample[];
}
