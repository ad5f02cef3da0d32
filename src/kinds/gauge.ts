/*
 * Gauge metrics: a float64 per series that any thread may set, raise or lower.
 *
 * One series is one 8-byte cell holding an f64's bits (assembly/gauges.ts has the
 * protocol). `set` is not additive, so a gauge cannot be striped: owned stripes summed
 * on read would turn two threads' `set(5)` into 10. Instead `set` is an atomic store (the
 * last store wins) and `inc`/`dec` a CAS loop on the bits, so concurrent adds are exact:
 * each lands once, as if the adds ran one after another in some order (each rounds like
 * a double add; sums of values exact in binary, e.g. integers below 2^53, stay exact).
 */
import type { Kind, RegistryCore } from '../registry-core.js';
import { InvalidLabelsError, InvalidValueError } from './errors.js';
import type { LabelValues } from './labels.js';
import { BASE_KEYS, type BaseDefinition, Metric, type MetricConfigurationBase, type MetricObject, type SeriesSpec, checkedByMetric, reapFamily, defineBase, openMetric } from './metric-base.js';
import type { MetricOps } from '../ops/metrics.js';
import { FamilyCollector } from './series.js';
import type { CollectOption } from '../collect-callbacks.js';

export type GaugeConfiguration<T extends string = string> = MetricConfigurationBase<T> & CollectOption<GaugeMetric<T>>;
export type GaugeDefinition = BaseDefinition;

/** One series of a gauge. Every value is a finite number; anything else throws InvalidValueError and changes nothing. */
export interface GaugeSeries {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
  /** Sets the gauge to the current Unix time in seconds. */
  setToCurrentTime(): void;
  /** Starts a timer; the returned function sets the gauge to the seconds elapsed and returns them. */
  startTimer(): () => number;
}

export function defineGauge(options: unknown, internal = false): GaugeDefinition {
  return defineBase(options, BASE_KEYS, [], internal).base;
}

class Series implements GaugeSeries {
  constructor(
    private readonly ops: MetricOps,
    private readonly metric: string,
    readonly dataOffset: number,
  ) {}
  set(v: number): void {
    // v - v is 0 for every finite number, NaN for NaN and the infinities.
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.metric, v, 'must be a finite number');
    this.ops.gaugeSet(this.dataOffset, v);
  }
  inc(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.metric, d, 'must be a finite number');
    this.ops.gaugeAdd(this.dataOffset, d);
  }
  dec(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.metric, d, 'must be a finite number');
    this.ops.gaugeAdd(this.dataOffset, -d);
  }
  setToCurrentTime(): void {
    this.ops.gaugeSet(this.dataOffset, Date.now() / 1000);
  }
  startTimer(): () => number {
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.ops.gaugeSet(this.dataOffset, s);
      return s;
    };
  }
}

function gaugeSpec(registry: RegistryCore, def: GaugeDefinition): SeriesSpec<GaugeSeries> {
  const m = registry.ops.metrics;
  return {
    bytes: 8,
    make: (dataOffset) => new Series(m, def.name, dataOffset),
    read: (dataOffset) => m.gaugeGet(dataOffset),
    tally: (dataOffset) => m.gaugeGet(dataOffset),
    // `set` is not additive: the last store wins, and zero is a store.
    zero: (dataOffset) => m.gaugeSet(dataOffset, 0),
    changeOnly: true,
  };
}

/**
 * A gauge shared by every thread (`registry.gauge({ name, help, labelNames })`), with
 * prom-client's call shapes: `set(5)`, `set({ pool: 'a' }, 5)`, `inc()`, `inc(labels, n)`,
 * `dec(...)`, `setToCurrentTime(labels?)`, `startTimer(labels?)`, `labels(...)`.
 */
export class GaugeMetric<T extends string = string> extends Metric<GaugeSeries, T> {
  readonly type = 'gauge' as const;

  set(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).set(value as number);
    else this.plain(value).set(labels);
  }

  inc(labels?: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).inc(value);
    else this.plain(value).inc(labels);
  }

  dec(labels?: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).dec(value);
    else this.plain(value).dec(labels);
  }

  setToCurrentTime(labels?: LabelValues<T>): void {
    this.series(labels).setToCurrentTime();
  }

  /** The returned function sets the gauge (of `labels` merged with `endLabels`) to the seconds elapsed and returns them. */
  startTimer(labels?: LabelValues<T>): (endLabels?: LabelValues<T>) => number {
    const t0 = performance.now();
    return (endLabels?: LabelValues<T>) => {
      const s = (performance.now() - t0) / 1000;
      this.series(endLabels === undefined ? labels : { ...labels, ...endLabels }).set(s);
      return s;
    };
  }

  private plain(second: unknown): GaugeSeries {
    if (second !== undefined) throw new InvalidLabelsError(this.name, 'labels must be an object: (labels, value)');
    return this.series(undefined);
  }

  async get(): Promise<MetricObject> {
    return {
      name: this.name,
      help: this.help,
      type: 'gauge',
      values: this.readAll().map((s) => ({ labels: { ...s.labels }, value: s.value as number })),
      aggregator: 'sum',
    };
  }
}

/** The gauge metrics' kind. */
export const gaugeKind = {
  name: 'gauge',
  code: 7,
  dataBytes: checkedByMetric,
  threadEnded: reapFamily,
  collector: new FamilyCollector((registry, definition): GaugeMetric => gaugeKind.open(registry, definition, true)),

  /** The body of `StatsRegistry.gauge`; `internal`: the package's own families (see defineBase). */
  open<T extends string = string>(registry: RegistryCore, options: unknown, internal = false): GaugeMetric<T> {
    return openMetric(registry, gaugeKind, defineGauge(options, internal), gaugeSpec, GaugeMetric<T>);
  },
} satisfies Kind;
