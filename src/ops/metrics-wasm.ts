/*
 * Binds this thread's metric op set (metric-ops.ts) for a registry object, once: the Wasm
 * core's exports themselves when the thread runs the core, else the JS twin on the same
 * cells (metric-ops-js.ts).
 */
import type { RegistryCore } from '../registry-core.js';
import type { MetricOps } from './metric-ops.js';
import { jsMetricOps } from './metric-ops-js.js';

type MetricCoreExports = MetricOps;

const cache = new WeakMap<RegistryCore, MetricOps>();

/** This thread's op set for a registry: the core's exports themselves (no JS wrapper), or the JS twin. */
export function metricOps(registry: RegistryCore): MetricOps {
  let ops = cache.get(registry);
  if (ops === undefined) {
    if (registry.core !== undefined) {
      // attach() accepts only a core whose abiVersion() is this build's, so the exports are there.
      const x = registry.core as unknown as MetricCoreExports;
      ops = {
        gaugeSet: x.gaugeSet,
        gaugeGet: x.gaugeGet,
        gaugeAdd: x.gaugeAdd,
        f64OwnedAdd: x.f64OwnedAdd,
        f64SumStriped: x.f64SumStriped,
        histObserveShared: x.histObserveShared,
        histObserveOwned: x.histObserveOwned,
      };
    } else {
      ops = jsMetricOps(registry.views.u8.buffer, registry.ops);
    }
    cache.set(registry, ops);
  }
  return ops;
}
