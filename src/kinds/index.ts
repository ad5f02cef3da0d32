/*
 * The metric kinds, one module each, and the one table that lists them: adding a kind is
 * its module plus a line in METRIC_KINDS (and its code in codes.ts).
 */
import type { RecordInfo } from '../directory.js';
import type { MetricFamily } from '../export/family.js';
import type { RegistryCore } from '../registry-core.js';
import { METRIC_KIND_CODES } from './codes.js';
import { counterKind } from './counter.js';
import { gaugeKind } from './gauge.js';
import { histogramKind } from './histogram.js';
import type { Metric } from './metric-base.js';

export interface MetricKind {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly code: number;
  open(registry: RegistryCore, options: unknown, internal?: boolean): Metric<unknown>;
}

export const METRIC_KINDS: readonly MetricKind[] = [counterKind, gaugeKind, histogramKind];

/**
 * The user metrics of one directory listing as metric families, each under exactly the
 * name its user gave it, with one sample per series. Families are opened from their
 * records' signatures (re-validated: a record this version cannot read is skipped), and
 * series records are grouped by family in one pass.
 */
export function collectMetricKinds(registry: RegistryCore, records: readonly RecordInfo[]): MetricFamily[] {
  const byName = new Map<string, { metric: Metric<unknown>; children: RecordInfo[] }>();
  const series: RecordInfo[] = [];
  for (const r of records) {
    if (r.kind === METRIC_KIND_CODES.metricSeries) {
      series.push(r);
      continue;
    }
    const kind = METRIC_KINDS.find((k) => k.code === r.kind);
    if (kind === undefined) continue;
    try {
      const { kind: type, ...descriptor } = JSON.parse(r.signature) as Record<string, unknown>;
      if (type !== kind.type) continue;
      byName.set(r.name, { metric: kind.open(registry, { ...descriptor, name: r.name }, true), children: [] });
    } catch {
      // A signature this version cannot read (or that no longer validates) is skipped, not guessed at.
    }
  }
  for (const r of series) {
    const brace = r.name.indexOf('{');
    if (brace > 0) byName.get(r.name.slice(0, brace))?.children.push(r);
  }
  return [...byName.values()].map((e) => e.metric.family(e.children));
}

export { counterKind, gaugeKind, histogramKind };
