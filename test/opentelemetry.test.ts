import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData, type MetricReaderOptions } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { atomicStatsMetricProducer, observeAtomicStats } from '../src/opentelemetry.js';
import { ITERATIONS, workedRegistry } from './helpers/exporters.js';
import { syntheticHistogram, withExtraFamilies } from './helpers/families.js';
import { expectRejected } from './helpers/metrics.js';

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

/** `name{attr=value,...}` -> point value, for every point. */
function points(metrics: MetricData[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of metrics) {
    for (const p of m.dataPoints) {
      const attrs = Object.entries(p.attributes).map(([k, v]) => `${k}=${String(v)}`).join(',');
      out.set(`${m.descriptor.name}{${attrs}}`, p.value);
    }
  }
  return out;
}

const otelName = (name: string, type: string) => (type === 'counter' ? name.replace(/_total$/, '') : name);
const otelAttrs = (labels: Readonly<Record<string, string>>) =>
  Object.entries(labels)
    .map(([k, v]) => `atomic_stats.${k}=${v}`)
    .join(',');

describe('OpenTelemetry: observeAtomicStats (API instruments)', () => {
  it('collected points match the registry, a terminated worker included', async () => {
    const { registry, victimIterations } = await workedRegistry(['js', 'wasm', 'js']);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('atomic-stats-test'));
    const got = points(await metricsOf(reader));
    const executed = got.get('atomic_stats_step_executions{atomic_stats.name=steps,atomic_stats.outcome=success}') as number;
    expect(executed - 3 * ITERATIONS - victimIterations).toBeGreaterThanOrEqual(0);
    expect(executed - 3 * ITERATIONS - victimIterations).toBeLessThanOrEqual(1);
    let compared = 0;
    for (const family of registry.collect()) {
      for (const s of family.samples) {
        expect(got.get(`${otelName(family.name, family.type)}{${otelAttrs(s.labels)}}`), family.name).toBe(Number(s.value));
        compared++;
      }
    }
    expect(compared).toBe(got.size);
    await provider.shutdown();
  });

  it('gives every instrument a unit, integer counts ValueType.INT, and namespaced attributes', async () => {
    const registry = StatsRegistry.create();
    registry.stepExecutionStats('steps').recordSuccess(250);
    registry.circuitBreaker('db').recordSuccess(5_000);
    registry.counters('jobs', ['done', '__proto__', 'constructor']).counter('__proto__').add(4);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('t'));
    const metrics = await metricsOf(reader);
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    for (const m of metrics) {
      expect(m.descriptor.unit, m.descriptor.name).not.toBe('');
      expect(m.descriptor.name).not.toMatch(/_total$/);
      for (const p of m.dataPoints) {
        expect(Number.isNaN(p.value as number)).toBe(false);
        for (const k of Object.keys(p.attributes)) expect(k).toMatch(/^atomic_stats\.[a-z_]+$/);
      }
    }
    const exec = byName.get('atomic_stats_step_executions')!;
    expect(exec.descriptor).toMatchObject({ unit: '{execution}', valueType: ValueType.INT });
    expect(exec.dataPointType).toBe(DataPointType.SUM);
    expect(byName.get('atomic_stats_step_execution_seconds')!.descriptor).toMatchObject({ unit: 's', valueType: ValueType.DOUBLE });
    expect(byName.get('atomic_stats_circuit_breaker_call_duration_seconds')!.descriptor.unit).toBe('s');
    expect(byName.get('atomic_stats_registry_used_bytes')!.descriptor).toMatchObject({ unit: 'By', valueType: ValueType.INT });
    expect(byName.get('atomic_stats_circuit_breaker_state')!.descriptor).toMatchObject({ unit: '1', valueType: ValueType.INT });
    const got = points(metrics);
    expect(got.get('atomic_stats_step_execution_seconds{atomic_stats.name=steps}')).toBe(0.25);
    expect(got.get('atomic_stats_set_jobs{atomic_stats.set=jobs,atomic_stats.field=__proto__}')).toBe(4);
    expect(got.get('atomic_stats_set_jobs{atomic_stats.set=jobs,atomic_stats.field=constructor}')).toBe(0);
    expect(got.get('atomic_stats_circuit_breaker_state{atomic_stats.name=db,atomic_stats.state=closed}')).toBe(1);
    await provider.shutdown();
  });

  it('reports entries created later from the next collection, and stops', async () => {
    const registry = StatsRegistry.create();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('t'));
    registry.circuitBreaker('late').forceOpen();
    expect([...points(await metricsOf(reader)).keys()].some((k) => k.includes('circuit_breaker'))).toBe(false);
    await new Promise((r) => setTimeout(r, 0));
    const got = points(await metricsOf(reader));
    expect(got.get('atomic_stats_circuit_breaker_state{atomic_stats.name=late,atomic_stats.state=open}')).toBe(1);
    expect(got.get('atomic_stats_circuit_breaker_opens{atomic_stats.name=late}')).toBe(1);
    expect(exp.names).toContain('atomic_stats_circuit_breaker_state');
    exp.stop();
    registry.counters('after_stop', ['x']);
    const after = points(await metricsOf(reader));
    expect([...after.keys()].some((k) => k.includes('after_stop'))).toBe(false);
    await provider.shutdown();
  });

  it.each([
    [() => observeAtomicStats(StatsRegistry.create(), {} as never), 'meter'],
    [() => observeAtomicStats(StatsRegistry.create(), new MeterProvider().getMeter('t'), { prefix: 'a-b' }), 'prefix'],
    [() => atomicStatsMetricProducer(StatsRegistry.create(), { include: 'some' as never }), 'include'],
    [() => atomicStatsMetricProducer(StatsRegistry.create(), { other: 1 } as never), 'other'],
  ])('bad input #%# is an InvalidOptionsError naming %s', (call, option) => {
    let caught: unknown;
    try {
      call();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    expect((caught as InvalidOptionsError).option).toBe(option);
  });
});

describe('OpenTelemetry: atomicStatsMetricProducer (SDK metricProducers)', () => {
  it('exports histogram families as explicit-bucket histograms beside the API instruments, nothing doubled', async () => {
    const registry = withExtraFamilies(StatsRegistry.create(), () => [syntheticHistogram()]);
    registry.counters('jobs', ['done']).counter('done').add(3);
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry)] });
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('t'));
    const metrics = await metricsOf(reader);
    const names = metrics.map((m) => m.descriptor.name);
    expect(new Set(names).size).toBe(names.length);
    const h = metrics.find((m) => m.descriptor.name === 'app_job_duration_seconds')!;
    expect(h.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(h.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    expect(h.descriptor).toMatchObject({ unit: 's', description: 'Job duration.', valueType: ValueType.DOUBLE });
    // User labels are kept as their author named them.
    const fast = h.dataPoints.find((p) => p.attributes.queue === 'fast')!;
    expect(fast.value).toEqual({ buckets: { boundaries: [0.1, 0.5, 1], counts: [50, 40, 10, 0] }, sum: 21.5, count: 100 });
    const slow = h.dataPoints.find((p) => p.attributes.queue === 'slow "q"\\x')!;
    expect(slow.value).toEqual({ buckets: { boundaries: [0.1, 0.5, 1], counts: [0, 1, 1, 1] }, sum: 4.25, count: 3 });
    expect(names).toContain('atomic_stats_set_jobs');
    await provider.shutdown();
  });

  it('never reports a negative bucket count when a cumulative read raced an observation', async () => {
    // Buckets are read one after another while other threads observe: a later (larger le)
    // bucket may be read before an observation that an earlier one already counts.
    const registry = withExtraFamilies(StatsRegistry.create(), () => [
      {
        name: 'raced_seconds',
        help: 'A torn read.',
        type: 'histogram',
        unit: 's',
        samples: [{ labels: {}, value: { buckets: [{ le: 1, count: 5n }, { le: 2, count: 4n }, { le: Infinity, count: 7n }], sum: 6, count: 7n } }],
      },
    ]);
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry)] });
    const provider = new MeterProvider({ readers: [reader] });
    const h = (await metricsOf(reader)).find((m) => m.descriptor.name === 'raced_seconds')!;
    expect(h.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [1, 2], counts: [5, 0, 2] }, sum: 6, count: 7 });
    await provider.shutdown();
  });

  it("with include: 'all', produces every family, entries created just before included", async () => {
    const registry = withExtraFamilies(StatsRegistry.create(), () => [syntheticHistogram()]);
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { include: 'all' })] });
    const provider = new MeterProvider({ readers: [reader] });
    registry.counters('now', ['x']).counter('x').add(5);
    registry.stepExecutionStats('s').recordSuccess(1);
    const metrics = await metricsOf(reader);
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    const set = byName.get('atomic_stats_set_now')!;
    expect(set.dataPointType).toBe(DataPointType.SUM);
    expect((set as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    expect(set.descriptor).toMatchObject({ unit: '1', valueType: ValueType.INT });
    expect(set.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ 'atomic_stats.set': 'now', 'atomic_stats.field': 'x' }, 5]]);
    expect(byName.get('atomic_stats_registry_entries')!.dataPointType).toBe(DataPointType.GAUGE);
    expect(byName.get('atomic_stats_step_execution_seconds')!.descriptor.valueType).toBe(ValueType.DOUBLE);
    expect(byName.get('app_job_duration_seconds')!.dataPointType).toBe(DataPointType.HISTOGRAM);
    // Every family of the registry, once.
    expect([...byName.keys()].sort()).toEqual(registry.collect().map((f) => otelName(f.name, f.type)).sort());
    await provider.shutdown();
  });
});

describe('OpenTelemetry: value types come from the definition', () => {
  // observeAtomicStats fixes an instrument's value type when it creates it: a family seen
  // before its first series must get the type one seen after it gets.
  const define = (registry: StatsRegistry) => {
    const ints = registry.counter({ name: 'orders_total', help: 'Orders.', labelNames: ['shop'] });
    const floats = registry.counter({ name: 'weight_total', help: 'Weight.', labelNames: ['shop'], float: true });
    const level = registry.gauge({ name: 'level', help: 'Level.', labelNames: ['shop'] });
    return () => {
      ints.inc({ shop: 'a' }, 2);
      floats.inc({ shop: 'a' }, 0.5);
      level.set({ shop: 'a' }, 3);
    };
  };
  const expectTypes = (metrics: MetricData[]) => {
    const byName = new Map(metrics.map((m) => [m.descriptor.name, m]));
    expect(byName.get('orders')!.descriptor.valueType).toBe(ValueType.INT);
    expect(byName.get('weight')!.descriptor.valueType).toBe(ValueType.DOUBLE);
    expect(byName.get('level')!.descriptor.valueType).toBe(ValueType.DOUBLE);
    expect(points(metrics).get('orders{shop=a}')).toBe(2);
    expect(points(metrics).get('weight{shop=a}')).toBe(0.5);
  };

  it.each(['before', 'after'])('observeAtomicStats started %s the first series: integer counter INT, float counter and gauge DOUBLE', async (when) => {
    const registry = StatsRegistry.create();
    const write = define(registry);
    if (when === 'after') write();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('t'));
    if (when === 'before') write();
    expectTypes(await metricsOf(reader));
    await provider.shutdown();
  });

  it.each(['before', 'after'])("the producer with include: 'all', collected %s the first series: the same types", async (when) => {
    const registry = StatsRegistry.create();
    const write = define(registry);
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { include: 'all' })] });
    const provider = new MeterProvider({ readers: [reader] });
    if (when === 'before') {
      const empty = new Map((await metricsOf(reader)).map((m) => [m.descriptor.name, m]));
      expect(empty.get('orders')!.descriptor.valueType).toBe(ValueType.INT);
      expect(empty.get('weight')!.descriptor.valueType).toBe(ValueType.DOUBLE);
    }
    write();
    expectTypes(await metricsOf(reader));
    await provider.shutdown();
  });

  it('collect() says so on the family: integer from the definition, with or without series', () => {
    const registry = StatsRegistry.create();
    const write = define(registry);
    const integer = () => Object.fromEntries(registry.collect().filter((f) => !f.name.startsWith('atomic_stats_')).map((f) => [f.name, f.integer]));
    const expected = { orders_total: true, weight_total: false, level: false };
    expect(integer()).toEqual(expected);
    write();
    expect(integer()).toEqual(expected);
  });
});

describe('OpenTelemetry: the producer’s instrumentation scope', () => {
  const scopesOf = async (reader: TestReader) => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics.map((s) => ({ scope: { ...s.scope }, names: s.metrics.map((m) => m.descriptor.name) }));
  };
  const histogramRegistry = () => {
    const registry = StatsRegistry.create();
    registry.histogram({ name: 'req_seconds', help: 'Requests.' }).observe(0.2);
    registry.counter({ name: 'req_total', help: 'Requests.' }).inc();
    return registry;
  };

  it('is atomic-stats by default', async () => {
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(histogramRegistry())] });
    const provider = new MeterProvider({ readers: [reader] });
    expect(await scopesOf(reader)).toEqual([{ scope: { name: 'atomic-stats' }, names: ['req_seconds'] }]);
    await provider.shutdown();
  });

  it("puts the histograms under the Meter's scope when given it, beside observeAtomicStats' counters", async () => {
    const registry = histogramRegistry();
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { scope: { name: 'checkout', version: '1.4.0', schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' } })] });
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('checkout', '1.4.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' }));
    const scopes = await scopesOf(reader);
    const meterScope = scopes.find((s) => s.names.includes('req'))!.scope;
    const producerScope = scopes.find((s) => s.names.includes('req_seconds'))!.scope;
    expect(meterScope).toEqual({ name: 'checkout', version: '1.4.0', schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' });
    expect(producerScope).toEqual(meterScope);
    await provider.shutdown();
  });

  it('takes a name alone', async () => {
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(histogramRegistry(), { scope: 'jobs' })] });
    const provider = new MeterProvider({ readers: [reader] });
    expect((await scopesOf(reader)).map((s) => s.scope)).toEqual([{ name: 'jobs' }]);
    await provider.shutdown();
  });

  it.each([[''], [5], [null], [{}], [{ name: '' }], [{ name: 'x', version: 1 }], [{ name: 'x', schemaUrl: null }], [{ name: 'x', other: 'y' }], [['x']]])(
    'scope %j is an InvalidOptionsError naming scope, and changes nothing',
    (bad) => {
      const registry = histogramRegistry();
      const err = expectRejected(registry, () => atomicStatsMetricProducer(registry, { scope: bad as never }), InvalidOptionsError) as InvalidOptionsError;
      expect(err.option).toBe('scope');
    },
  );
});
