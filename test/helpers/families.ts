import type { HistogramValue, MetricFamily, StatsRegistry } from '../../src/index.js';

/**
 * A histogram family as the metric kinds report one (cumulative buckets, +Inf last), for
 * testing the exporters before any built-in kind emits histograms.
 */
export function syntheticHistogram(name = 'app_job_duration_seconds'): MetricFamily {
  const value = (counts: bigint[], sum: number): HistogramValue => ({
    buckets: [0.1, 0.5, 1, Infinity].map((le, i) => ({ le, count: counts[i]! })),
    sum,
    count: counts[3]!,
  });
  return {
    name,
    help: 'Job duration.',
    type: 'histogram',
    unit: 's',
    samples: [
      // 50 at or below 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1], none above.
      { labels: { queue: 'fast' }, value: value([50n, 90n, 100n, 100n], 21.5) },
      { labels: { queue: 'slow "q"\\x' }, value: value([0n, 1n, 2n, 3n], 4.25) },
    ],
  };
}

/**
 * Test-only seam: makes `registry.collect()` also return `extra` families (what the metric
 * kinds add in their branch of collectFamilies), the way every exporter reads a registry.
 */
export function withExtraFamilies(registry: StatsRegistry, extra: () => MetricFamily[]): StatsRegistry {
  const collect = registry.collect.bind(registry);
  registry.collect = (options) => [...collect(options), ...extra()];
  return registry;
}
