/**
 * Kind codes of the metric kinds, stored in each directory record (the registry's
 * KIND_CODES spreads these in). Kept here so the kinds need no value from registry.ts.
 */
export const METRIC_KIND_CODES = {
  counter: 6,
  gauge: 7,
  histogram: 8,
  /** One labelled series of a counter, gauge or histogram family. */
  metricSeries: 9,
} as const;
