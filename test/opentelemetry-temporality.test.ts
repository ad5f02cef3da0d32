/*
 * The producer's points in the temporality of the reader that collects them, with the real
 * SDK: PeriodicExportingMetricReader + InMemoryMetricExporter (DELTA and CUMULATIVE), and
 * a MetricReader subclass collected by hand.
 */
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type MetricReaderOptions,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { type BackendKind, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { atomicStatsMetricProducer, observeAtomicStats } from '../src/opentelemetry.js';
import { readyCount, startFlag, startWorkers } from './helpers/workers.js';
import { expectRejected } from './helpers/metrics.js';

const { DELTA, CUMULATIVE } = AggregationTemporality;

class ManualReader extends MetricReader {
  constructor(options?: MetricReaderOptions) {
    super(options);
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function collectOnce(reader: MetricReader): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

/** A periodic reader that exports only when flushed, on an in-memory exporter of `temporality`. */
function periodic(registry: StatsRegistry, temporality: AggregationTemporality, include: 'histograms' | 'all' = 'all') {
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 2_000_000_000,
    metricProducers: [atomicStatsMetricProducer(registry, { include, temporality: exporter })],
  });
  const provider = new MeterProvider({ readers: [reader] });
  /** Exports once and returns that export's metrics. */
  const exportOnce = async (): Promise<MetricData[]> => {
    const before = exporter.getMetrics().length;
    await reader.forceFlush();
    const all = exporter.getMetrics();
    expect(all.length).toBe(before + 1);
    return all[all.length - 1]!.scopeMetrics.flatMap((s) => s.metrics);
  };
  return { exporter, reader, provider, exportOnce };
}

const metric = (metrics: MetricData[], name: string) => {
  const m = metrics.find((x) => x.descriptor.name === name);
  expect(m, name).toBeDefined();
  return m!;
};
type HistogramPoint = { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number; min?: number; max?: number };
const hist = (m: MetricData, i = 0) => m.dataPoints[i]!.value as HistogramPoint;

describe('atomicStatsMetricProducer: the reader’s temporality', () => {
  it('a DELTA reader gets each interval’s observations, a CUMULATIVE reader the running totals (one observation per export)', async () => {
    const registry = StatsRegistry.create();
    const h = registry.histogram({ name: 'job_seconds', help: 'Jobs.', buckets: [1, 2] });
    const c = registry.counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['queue'] });
    const delta = periodic(registry, DELTA);
    const cumulative = periodic(registry, CUMULATIVE);
    const got = { delta: [] as number[][], cumulative: [] as number[][] };
    const values = [0.5, 1.5, 3];
    for (let i = 0; i < 3; i++) {
      h.observe(values[i]!);
      c.inc({ queue: 'q' }, i + 1);
      for (const [key, r] of [['delta', delta], ['cumulative', cumulative]] as const) {
        const ms = await r.exportOnce();
        const hm = metric(ms, 'job_seconds');
        const cm = metric(ms, 'jobs');
        expect(hm.aggregationTemporality).toBe(key === 'delta' ? DELTA : CUMULATIVE);
        expect(cm.aggregationTemporality).toBe(key === 'delta' ? DELTA : CUMULATIVE);
        expect(cm.dataPointType).toBe(DataPointType.SUM);
        const p = hist(hm);
        got[key].push([p.count, p.sum, ...p.buckets.counts, cm.dataPoints[0]!.value as number]);
      }
    }
    // count, sum, per-bucket counts (le 1, le 2, +Inf), the counter
    expect(got.delta).toEqual([
      [1, 0.5, 1, 0, 0, 1],
      [1, 1.5, 0, 1, 0, 2],
      [1, 3, 0, 0, 1, 3],
    ]);
    expect(got.cumulative).toEqual([
      [1, 0.5, 1, 0, 0, 1],
      [2, 2, 1, 1, 0, 3],
      [3, 5, 1, 1, 1, 6],
    ]);
    // An interval without observations: zeros in DELTA, unchanged totals in CUMULATIVE.
    expect(hist(metric(await delta.exportOnce(), 'job_seconds'))).toMatchObject({ count: 0, sum: 0, buckets: { counts: [0, 0, 0] } });
    expect(hist(metric(await cumulative.exportOnce(), 'job_seconds'))).toMatchObject({ count: 3, sum: 5, buckets: { counts: [1, 1, 1] } });
    await delta.provider.shutdown();
    await cumulative.provider.shutdown();
  });

  it('a DELTA point starts where the previous export ended; a CUMULATIVE point at the producer’s start', async () => {
    const registry = StatsRegistry.create();
    registry.counter({ name: 'ticks_total', help: 'Ticks.' }).inc();
    const delta = periodic(registry, DELTA);
    const cumulative = periodic(registry, CUMULATIVE);
    const d1 = metric(await delta.exportOnce(), 'ticks').dataPoints[0]!;
    const d2 = metric(await delta.exportOnce(), 'ticks').dataPoints[0]!;
    expect(d2.startTime).toEqual(d1.endTime);
    const c1 = metric(await cumulative.exportOnce(), 'ticks').dataPoints[0]!;
    const c2 = metric(await cumulative.exportOnce(), 'ticks').dataPoints[0]!;
    expect(c2.startTime).toEqual(c1.startTime);
    await delta.provider.shutdown();
    await cumulative.provider.shutdown();
  });

  it('follows the selector per instrument kind (histograms DELTA, counters CUMULATIVE, as OTLP’s low-memory preference)', async () => {
    const registry = StatsRegistry.create();
    const h = registry.histogram({ name: 'lat_seconds', help: 'Latency.', buckets: [1] });
    const c = registry.counter({ name: 'reqs_total', help: 'Requests.' });
    const asked: string[] = [];
    const lowMemory = (t: InstrumentType) => {
      asked.push(t);
      return t === InstrumentType.COUNTER || t === InstrumentType.HISTOGRAM ? DELTA : CUMULATIVE;
    };
    const reader = new ManualReader({ aggregationTemporalitySelector: lowMemory, metricProducers: [atomicStatsMetricProducer(registry, { include: 'all', temporality: lowMemory })] });
    const provider = new MeterProvider({ readers: [reader] });
    const rows: number[][] = [];
    for (let i = 0; i < 2; i++) {
      h.observe(0.5);
      c.inc(10);
      const ms = await collectOnce(reader);
      expect(metric(ms, 'lat_seconds').aggregationTemporality).toBe(DELTA);
      expect(metric(ms, 'reqs').aggregationTemporality).toBe(CUMULATIVE);
      expect(metric(ms, 'atomic_stats_registry_entries').dataPointType).toBe(DataPointType.GAUGE);
      rows.push([hist(metric(ms, 'lat_seconds')).count, metric(ms, 'reqs').dataPoints[0]!.value as number]);
    }
    expect(rows).toEqual([
      [1, 10],
      [1, 20],
    ]);
    // Counters are read as running totals, so they are asked for as observable counters.
    expect(asked).toEqual(expect.arrayContaining([InstrumentType.OBSERVABLE_COUNTER, InstrumentType.HISTOGRAM]));
    await provider.shutdown();
  });

  it('takes one AggregationTemporality for every kind', async () => {
    const registry = StatsRegistry.create();
    const c = registry.counter({ name: 'n_total', help: 'N.' });
    const reader = new ManualReader({ metricProducers: [atomicStatsMetricProducer(registry, { include: 'all', temporality: DELTA })] });
    const provider = new MeterProvider({ readers: [reader] });
    const seen: number[] = [];
    for (const n of [4, 0, 6]) {
      c.inc(n);
      seen.push(metric(await collectOnce(reader), 'n').dataPoints[0]!.value as number);
    }
    expect(seen).toEqual([4, 0, 6]);
    await provider.shutdown();
  });

  it('DELTA counter points are exact above 2^53 (the difference is taken on the exact u64)', async () => {
    const registry = StatsRegistry.create();
    const c = registry.counters('big', ['n']).counter('n');
    c.addBigInt(2n ** 60n);
    const reader = new ManualReader({ metricProducers: [atomicStatsMetricProducer(registry, { include: 'all', temporality: DELTA })] });
    const provider = new MeterProvider({ readers: [reader] });
    expect(metric(await collectOnce(reader), 'atomic_stats_set_big').dataPoints[0]!.value).toBe(2 ** 60);
    c.add(3);
    // 2^60 + 3 is no double: a difference of the rounded totals would be 0.
    expect(metric(await collectOnce(reader), 'atomic_stats_set_big').dataPoints[0]!.value).toBe(3);
    await provider.shutdown();
  });

  it('histogram points carry no min or max (the shared buckets do not keep them)', async () => {
    const registry = StatsRegistry.create();
    registry.histogram({ name: 'mm_seconds', help: 'x.', buckets: [1] }).observe(0.3);
    const reader = new ManualReader({ metricProducers: [atomicStatsMetricProducer(registry, { temporality: DELTA })] });
    const provider = new MeterProvider({ readers: [reader] });
    const p = hist(metric(await collectOnce(reader), 'mm_seconds'));
    expect(p.count).toBe(1);
    expect('min' in p || 'max' in p).toBe(false);
    await provider.shutdown();
  });

  it('observeAtomicStats counters with a DELTA reader: the SDK turns the observed totals into deltas', async () => {
    const registry = StatsRegistry.create();
    const c = registry.counter({ name: 'obs_total', help: 'Observed.', labelNames: ['k'] });
    c.inc({ k: 'a' }, 0);
    const exporter = new InMemoryMetricExporter(DELTA);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2_000_000_000 });
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('app'));
    const seen: unknown[] = [];
    for (const n of [5, 7, 0, 11]) {
      c.inc({ k: 'a' }, n);
      await reader.forceFlush();
      const last = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics);
      const m = metric(last, 'obs');
      expect(m.aggregationTemporality).toBe(DELTA);
      seen.push(m.dataPoints.map((p) => [p.attributes, p.value]));
    }
    expect(seen).toEqual([5, 7, 0, 11].map((n) => [[{ k: 'a' }, n]]));
    await provider.shutdown();
  });

  it.each([
    ['a string', 'delta'],
    ['a number that is no temporality', 2],
    ['null', null],
    ['an object without selectAggregationTemporality', { export() {} }],
    ['a selector returning something else', () => 'DELTA'],
    ['a selector that throws', () => {
      throw new Error('no');
    }],
  ])('temporality %s is an InvalidOptionsError naming temporality, and changes nothing', (_what, bad) => {
    const registry = StatsRegistry.create();
    registry.histogram({ name: 'x_seconds', help: 'x.' }).observe(1);
    const err = expectRejected(registry, () => atomicStatsMetricProducer(registry, { temporality: bad as never }), InvalidOptionsError) as InvalidOptionsError;
    expect(err.option).toBe('temporality');
  });
});

describe('atomicStatsMetricProducer: worker threads observing while DELTA and CUMULATIVE readers export', () => {
  const ROUTES = ['/a', '/b', '/c'];
  const CASES: [BackendKind, boolean][] = (['auto', 'wasm', 'js'] as const).flatMap((b) => [[b, false], [b, true]] as [BackendKind, boolean][]);
  it.each(CASES)('backend %s, striped %s: the DELTA points add up to the CUMULATIVE totals, exactly', async (backend, striped) => {
    const registry = StatsRegistry.create({ stripes: 4 });
    const iterations = 40_000;
    const start = startFlag();
    const run = startWorkers<{ done: number }>(
      'metrics-worker.mjs',
      [0, 1, 2].map((index) => ({ mode: 'work', handle: registry.handle, backend, striped, iterations, index, start: start.sab })),
    );
    await readyCount(run.workers);
    // One producer per reader: each keeps its own last values.
    const delta = periodic(registry, DELTA);
    const cumulative = periodic(registry, CUMULATIVE);
    const summed = new Map<string, { count: number; sum: number; buckets: number[]; requests: number; bytes: number }>();
    const add = (ms: MetricData[]) => {
      const lat = ms.find((m) => m.descriptor.name === 't_latency_seconds');
      const req = ms.find((m) => m.descriptor.name === 't_requests');
      const bytes = ms.find((m) => m.descriptor.name === 't_bytes');
      for (const route of ROUTES) {
        const e = summed.get(route) ?? { count: 0, sum: 0, buckets: [0, 0, 0, 0], requests: 0, bytes: 0 };
        const p = lat?.dataPoints.find((x) => x.attributes.route === route)?.value as HistogramPoint | undefined;
        if (p !== undefined) {
          e.count += p.count;
          e.sum += p.sum;
          p.buckets.counts.forEach((n, i) => (e.buckets[i]! += n));
        }
        e.requests += (req?.dataPoints.find((x) => x.attributes.route === route)?.value as number | undefined) ?? 0;
        e.bytes += (bytes?.dataPoints.find((x) => x.attributes.route === route)?.value as number | undefined) ?? 0;
        summed.set(route, e);
      }
    };
    start.release();
    let exports = 0;
    let done = false;
    const results = run.results.finally(() => {
      done = true;
    });
    while (!done) {
      add(await delta.exportOnce());
      await cumulative.exportOnce();
      exports++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await results).toEqual([0, 1, 2].map(() => ({ done: iterations })));
    add(await delta.exportOnce());
    const last = await cumulative.exportOnce();
    expect(exports).toBeGreaterThan(1);
    for (const route of ROUTES) {
      const total = hist(metric(last, 't_latency_seconds'), metric(last, 't_latency_seconds').dataPoints.findIndex((p) => p.attributes.route === route));
      const e = summed.get(route)!;
      expect(e.count).toBe(total.count);
      expect(e.buckets).toEqual(total.buckets.counts);
      expect(e.sum).toBe(total.sum);
      expect(e.requests).toBe(metric(last, 't_requests').dataPoints.find((p) => p.attributes.route === route)!.value);
      expect(e.bytes).toBe(metric(last, 't_bytes').dataPoints.find((p) => p.attributes.route === route)!.value);
    }
    // And the totals are every worker's work.
    expect(ROUTES.reduce((n, r) => n + summed.get(r)!.count, 0)).toBe(3 * iterations);
    expect(ROUTES.reduce((n, r) => n + summed.get(r)!.requests, 0)).toBe(3 * iterations);
    await delta.provider.shutdown();
    await cumulative.provider.shutdown();
  });
});
