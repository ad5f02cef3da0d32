import type { MetricOps } from './metrics.js';

/** The float64 and histogram exports of the core (assembly/gauges.ts, assembly/histogram.ts): the op names themselves. */
export type MetricExports = MetricOps;

/** The Wasm twin: the core's exports themselves, no JS wrapper. */
export function wasmMetricOps(x: MetricExports): MetricOps {
  return {
    gaugeSet: x.gaugeSet,
    gaugeGet: x.gaugeGet,
    gaugeAdd: x.gaugeAdd,
    f64BaseAdd: x.f64BaseAdd,
    f64OwnedAdd: x.f64OwnedAdd,
    f64SumStriped: x.f64SumStriped,
    f64BaseSet: x.f64BaseSet,
    f64SetStriped: x.f64SetStriped,
    histObserveShared: x.histObserveShared,
    histObserveOwned: x.histObserveOwned,
    histObserveBase: x.histObserveBase,
  };
}
