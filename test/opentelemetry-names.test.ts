/*
 * Families whose OpenTelemetry instrument names collide (`a:b_total` and `a_b_total`;
 * `x_total` and `x`): the first keeps the name, the other is skipped with one warning and
 * listed, and no value is ever merged into or overwritten by another family's. Real SDK.
 */
import { MeterProvider, MetricReader, type MetricData, type MetricReaderOptions } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { atomicStatsMetricProducer, observeAtomicStats } from '../src/opentelemetry.js';

class TestReader extends MetricReader {
  constructor(options?: MetricReaderOptions) {
    super(options);
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function metricsOf(reader: TestReader): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** The metrics of `name` (all of them: there must be one), and their points as [attributes, value]. */
function only(metrics: MetricData[], name: string) {
  const found = metrics.filter((m) => m.descriptor.name === name);
  expect(found.length, `metrics named ${name}`).toBe(1);
  return found[0]!.dataPoints.map((p) => [p.attributes, p.value]);
}

function collisionWarnings(spy: ReturnType<typeof vi.spyOn>) {
  return spy.mock.calls.filter((c: unknown[]) => (c[1] as { code?: string } | undefined)?.code === 'ATOMIC_STATS_NAME_COLLISION').map((c: unknown[]) => ({ message: String(c[0]), type: (c[1] as { type?: string }).type }));
}

const noDuplicateNames = (metrics: MetricData[]) => {
  const names = metrics.map((m) => m.descriptor.name);
  expect(names.length).toBe(new Set(names).size);
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('OpenTelemetry names that collide after the mapping', () => {
  it('observeAtomicStats, a:b_total then a_b_total: the first keeps "a_b", the second is skipped, listed, warned once', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counter({ name: 'n1:b_total', help: 'Colon.' }).inc(5);
    registry.counter({ name: 'n1_b_total', help: 'Underscore.' }).inc(7);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('app'));
    for (let i = 0; i < 3; i++) {
      const metrics = await metricsOf(reader);
      noDuplicateNames(metrics);
      expect(only(metrics, 'n1_b')).toEqual([[{}, 5]]);
    }
    expect(exp.skipped).toEqual(['n1_b_total']);
    expect(exp.names.filter((n) => n === 'n1_b')).toHaveLength(1);
    const w = collisionWarnings(warn);
    expect(w).toHaveLength(1);
    expect(w[0]!.type).toBe('AtomicStatsWarning');
    expect(w[0]!.message).toContain('"n1_b_total"');
    expect(w[0]!.message).toContain('"n1:b_total"');
    expect(w[0]!.message).toContain('"n1_b"');
    await provider.shutdown();
  });

  it('observeAtomicStats, a counter x_total and a gauge x: one instrument "x", the other family skipped, never overwritten', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counter({ name: 'n2_total', help: 'Counter.', labelNames: ['k'] }).inc({ k: 'a' }, 3);
    registry.gauge({ name: 'n2', help: 'Gauge.', labelNames: ['k'] }).set({ k: 'a' }, 100);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('app'));
    const metrics = await metricsOf(reader);
    noDuplicateNames(metrics);
    expect(only(metrics, 'n2')).toEqual([[{ k: 'a' }, 3]]);
    expect(exp.skipped).toEqual(['n2']);
    expect(collisionWarnings(warn)).toHaveLength(1);
    await provider.shutdown();
  });

  it('a colliding family created after the export started is skipped from then on; the first keeps reporting', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    const first = registry.counter({ name: 'n3_jobs_total', help: 'First.' });
    first.inc(1);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('app'));
    expect(only(await metricsOf(reader), 'n3_jobs')).toEqual([[{}, 1]]);
    registry.counter({ name: 'n3:jobs_total', help: 'Later.' }).inc(50);
    first.inc(1);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 0)); // let a re-sync run, were one queued
      const metrics = await metricsOf(reader);
      noDuplicateNames(metrics);
      expect(only(metrics, 'n3_jobs')).toEqual([[{}, 2]]);
    }
    expect(exp.skipped).toEqual(['n3:jobs_total']);
    expect(collisionWarnings(warn)).toHaveLength(1);
    await provider.shutdown();
  });

  it("the producer with include: 'all': the same rule, no two metrics of one name", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counter({ name: 'n4:b_total', help: 'Colon.' }).inc(5);
    registry.counter({ name: 'n4_b_total', help: 'Underscore.' }).inc(7);
    registry.counter({ name: 'n4x_total', help: 'Counter.' }).inc(2);
    registry.histogram({ name: 'n4x', help: 'Histogram.', buckets: [1] }).observe(0.5);
    const producer = atomicStatsMetricProducer(registry, { include: 'all' });
    const reader = new TestReader({ metricProducers: [producer] });
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = await metricsOf(reader);
    noDuplicateNames(metrics);
    expect(only(metrics, 'n4_b')).toEqual([[{}, 5]]);
    expect(only(metrics, 'n4x')).toEqual([[{}, 2]]);
    expect(producer.skipped).toEqual(['n4_b_total', 'n4x']);
    expect(collisionWarnings(warn)).toHaveLength(2);
    await provider.shutdown();
  });

  it('observeAtomicStats beside the histogram producer: they decide alike, so one name is never sent twice (either order)', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    // A counter first, then a histogram of its instrument name; and the other way round.
    registry.counter({ name: 'n5a_total', help: 'Counter first.' }).inc(4);
    registry.histogram({ name: 'n5a', help: 'Histogram second.', buckets: [1] }).observe(0.5);
    registry.histogram({ name: 'n5b', help: 'Histogram first.', buckets: [1] }).observe(2);
    registry.counter({ name: 'n5b_total', help: 'Counter second.' }).inc(9);
    const producer = atomicStatsMetricProducer(registry, { scope: 'app' });
    const reader = new TestReader({ metricProducers: [producer] });
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('app'));
    const metrics = await metricsOf(reader);
    noDuplicateNames(metrics);
    expect(only(metrics, 'n5a')).toEqual([[{}, 4]]);
    expect(only(metrics, 'n5b')).toEqual([[{}, { buckets: { boundaries: [1], counts: [0, 1] }, sum: 2, count: 1 }]]);
    expect(exp.skipped).toEqual(['n5a', 'n5b_total']);
    expect(producer.skipped).toEqual(['n5a', 'n5b_total']);
    await provider.shutdown();
  });
});
