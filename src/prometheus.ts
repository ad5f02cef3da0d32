/*
 * atomic-stats/prometheus: exports a registry to a prom-client Registry.
 *
 * Every family of `registry.collect()` becomes one metric object registered with the
 * prom-client Registry. A scrape calls each object's get() in one synchronous pass, so the
 * first get() of a scrape reads the whole shared memory once (registry.collect) and the
 * others take their family from that read; the cache is dropped at the next microtask,
 * i.e. when the pass is over. Nothing is sent to any worker thread: the cells are read
 * in place, so a worker that died still has its counts in the totals.
 *
 * Entries created after registration: each scrape registers the families it has not
 * seen, and they appear from the next scrape on (prom-client lists its metrics before it
 * asks any of them for values). Call `sync()` to add them at once.
 *
 * Values: prom-client (like Prometheus itself) carries float64 samples, so a counter
 * above 2^53 is reported rounded to the nearest double — the precision of the protocol,
 * not a silent change of the counter, whose exact value `snapshotBigInt()` gives. A u64
 * counter that wraps at 2^64 looks like a counter reset, which rate() handles.
 */
import * as promClient from 'prom-client';
import type { CollectOptions, MetricFamily, StatsRegistry } from './index.js';

export interface PrometheusOptions extends CollectOptions {
  /** The prom-client Registry to register with. Default: prom-client's global `register`. */
  readonly register?: promClient.Registry;
}

export interface PrometheusExport {
  /** Registers the families of entries created since the last scrape or sync. */
  sync(): void;
  /** Removes every metric this export registered. */
  unregister(): void;
  /** Names of the metric families registered so far. */
  readonly names: readonly string[];
}

export function registerAtomicStats(stats: StatsRegistry, options: PrometheusOptions = {}): PrometheusExport {
  const register = options.register ?? promClient.register;
  const { register: _, ...collectOptions } = options;
  const registered = new Set<string>();
  let cache: Map<string, MetricFamily> | undefined;

  const read = (): Map<string, MetricFamily> => {
    if (cache === undefined) {
      const families = stats.collect(collectOptions);
      cache = new Map(families.map((f) => [f.name, f]));
      queueMicrotask(() => {
        cache = undefined;
      });
      add(families);
    }
    return cache;
  };

  const add = (families: readonly MetricFamily[]): void => {
    for (const f of families) {
      if (registered.has(f.name)) continue;
      const { name, help, type } = f;
      register.registerMetric({
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => {
          const family = read().get(name);
          return {
            name,
            help,
            type,
            aggregator: 'sum',
            values: (family?.samples ?? []).map((s) => ({ labels: { ...s.labels }, value: Number(s.value) })),
          };
        },
        reset: () => {},
      } as unknown as promClient.Metric);
      registered.add(name);
    }
  };

  add(stats.collect(collectOptions));
  return {
    sync: () => add(stats.collect(collectOptions)),
    unregister: () => {
      for (const name of registered) register.removeSingleMetric(name);
      registered.clear();
    },
    get names() {
      return [...registered];
    },
  };
}
