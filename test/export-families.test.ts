/*
 * Every built-in family, on both exporters: each appears (with samples) in a prom-client
 * scrape that the real `promtool check metrics` passes, and in a collection of the real
 * OpenTelemetry SDK under its mapped name, and no two families share a name on the wire
 * of either. The expected list is written out here, independently of the code: a family
 * the code drops or renames, or a new one, fails the test until this list (and the table
 * in docs/exporting.md) says so.
 */
import { spawnSync } from 'node:child_process';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InProcessEventBus, StatsRegistry } from '../src/index.js';
import { atomicStatsMetricProducer, observeAtomicStats } from '../src/opentelemetry.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { testEvent } from './helpers/bus.js';
import { openMetricsRegistry } from './helpers/exporters.js';

type T = 'counter' | 'gauge' | 'histogram';

/** Every built-in family (default prefix), and its type. */
const BUILTIN: readonly (readonly [string, T])[] = [
  // the registry (always present)
  ['atomic_stats_registry_entries', 'gauge'],
  ['atomic_stats_registry_used_bytes', 'gauge'],
  ['atomic_stats_registry_stripes', 'gauge'],
  ['atomic_stats_registry_stripes_in_use', 'gauge'],
  ['atomic_stats_registry_attachments_total', 'counter'],
  ['atomic_stats_registry_attachments_without_stripe_total', 'counter'],
  // a counter set
  ['atomic_stats_set_jobs_total', 'counter'],
  // step stats, and their durations (durations: true)
  ['atomic_stats_step_executions_total', 'counter'],
  ['atomic_stats_step_execution_seconds_total', 'counter'],
  ['atomic_stats_step_execution_duration_seconds', 'histogram'],
  // event-bus stats, and the live fields of the `buses` option
  ['atomic_stats_event_bus_events_published_total', 'counter'],
  ['atomic_stats_event_bus_handler_dispatches_total', 'counter'],
  ['atomic_stats_event_bus_broadcast_dispatches_total', 'counter'],
  ['atomic_stats_event_bus_handler_errors_total', 'counter'],
  ['atomic_stats_event_bus_broadcast_drops_total', 'counter'],
  ['atomic_stats_event_bus_broadcast_lagged_events_total', 'counter'],
  ['atomic_stats_event_bus_handler_sheds_total', 'counter'],
  ['atomic_stats_event_bus_handler_patterns', 'gauge'],
  ['atomic_stats_event_bus_handlers', 'gauge'],
  ['atomic_stats_event_bus_broadcast_receivers', 'gauge'],
  // worker-subscriber stats
  ['atomic_stats_worker_subscriber_completions_received_total', 'counter'],
  ['atomic_stats_worker_subscriber_completions_total', 'counter'],
  ['atomic_stats_worker_subscriber_conversion_errors_total', 'counter'],
  ['atomic_stats_worker_subscriber_unmatched_completions_total', 'counter'],
  // a bulkhead
  ['atomic_stats_bulkhead_active_calls', 'gauge'],
  ['atomic_stats_bulkhead_queued_calls', 'gauge'],
  ['atomic_stats_bulkhead_max_concurrent_calls', 'gauge'],
  ['atomic_stats_bulkhead_max_queued_calls', 'gauge'],
  ['atomic_stats_bulkhead_calls_total', 'counter'],
  ['atomic_stats_bulkhead_enqueued_calls_total', 'counter'],
  ['atomic_stats_bulkhead_reclaimed_permits_total', 'counter'],
  ['atomic_stats_bulkhead_late_releases_total', 'counter'],
  // a rate limiter
  ['atomic_stats_rate_limiter_available_tokens', 'gauge'],
  ['atomic_stats_rate_limiter_requests_total', 'counter'],
  ['atomic_stats_rate_limiter_granted_tokens_total', 'counter'],
  ['atomic_stats_rate_limiter_waited_requests_total', 'counter'],
  ['atomic_stats_rate_limiter_wait_seconds_total', 'counter'],
  ['atomic_stats_rate_limiter_aborted_requests_total', 'counter'],
  // circuit breaker, and its call durations (durations: true)
  ['atomic_stats_circuit_breaker_calls_total', 'counter'],
  ['atomic_stats_circuit_breaker_call_duration_seconds_total', 'counter'],
  ['atomic_stats_circuit_breaker_rejected_calls_total', 'counter'],
  ['atomic_stats_circuit_breaker_opens_total', 'counter'],
  ['atomic_stats_circuit_breaker_timeouts_total', 'counter'],
  ['atomic_stats_circuit_breaker_fallbacks_total', 'counter'],
  ['atomic_stats_circuit_breaker_aborted_calls_total', 'counter'],
  ['atomic_stats_circuit_breaker_disabled', 'gauge'],
  ['atomic_stats_circuit_breaker_consecutive_failures', 'gauge'],
  ['atomic_stats_circuit_breaker_half_open_successes', 'gauge'],
  ['atomic_stats_circuit_breaker_state', 'gauge'],
  ['atomic_stats_circuit_breaker_call_latency_seconds', 'histogram'],
];

/** The OpenTelemetry instrument name of a family (docs/exporting.md): counters without `_total`. */
const otelName = (name: string, type: T) => (type === 'counter' ? name.replace(/_total$/, '') : name);

/** Sample names a family puts on the Prometheus text wire (and the OpenMetrics family name of a counter). */
const wire = (name: string, type: T): string[] =>
  type === 'counter' ? [name, name.replace(/_total$/, '')] : type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];

/** A registry with every kind of built-in entry, every option that adds a family on, and traffic on each. */
function everything() {
  const registry = StatsRegistry.create();
  registry.counters('jobs', ['done', 'failed']).counter('done').add(3);
  const plain = registry.stepExecutionStats('plain');
  plain.recordSuccess(10);
  plain.recordFailure();
  const timed = registry.stepExecutionStats('timed', { durations: true });
  timed.recordSuccess(250);
  timed.recordSuccess(750);
  const bus = new InProcessEventBus({ registry, name: 'orders' });
  bus.subscribe('order.*', () => {});
  bus.publish(testEvent('order.placed'));
  registry.workerSubscriberStats('completions');
  const db = registry.circuitBreaker('db', { failureThreshold: 5 }, { durations: true });
  db.recordSuccess(2_000_000);
  db.recordFailure(3_000_000);
  registry.circuitBreaker('cache', { failureThreshold: 1 }).recordFailure(1_000);
  const bulkhead = registry.bulkhead('payments', { maxConcurrent: 1 });
  bulkhead.tryAcquire();
  bulkhead.tryAcquire(); // rejected
  const limiter = registry.rateLimiter('geo', { tokensPerInterval: 2, intervalMs: 1000 });
  while (limiter.tryAcquire());
  return { registry, bus };
}

function promtool(input: string): { status: number | null; problems: string[] } {
  const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, problems: `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

/** TYPE lines of an exposition (name -> type, every name once) and the sample names under each. */
function exposition(text: string): { types: Map<string, string>; samples: Map<string, Set<string>> } {
  const types = new Map<string, string>();
  const samples = new Map<string, Set<string>>();
  let family = '';
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      family = t[1]!;
      expect(types.has(family), `one TYPE line for ${family}`).toBe(false);
      types.set(family, t[2]!);
      samples.set(family, new Set());
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    samples.get(family)!.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return { types, samples };
}

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Every metric of one collection, whatever its scope. */
async function collected(reader: MetricReader): Promise<MetricData[]> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('every built-in family, on both exporters', () => {
  it('collect() returns exactly the documented built-in families', () => {
    const { registry, bus } = everything();
    const got = registry.collect({ buses: [bus] }).map((f) => [f.name, f.type]);
    expect(new Set(got.map(([n]) => n)).size).toBe(got.length);
    expect(got.sort()).toEqual([...BUILTIN].sort());
    // The durations histograms hold only the entries that asked for them.
    const steps = registry.collect().find((f) => f.name === 'atomic_stats_step_execution_duration_seconds')!;
    expect(steps.samples.map((s) => s.labels)).toEqual([{ name: 'timed' }]);
    const calls = registry.collect().find((f) => f.name === 'atomic_stats_circuit_breaker_call_latency_seconds')!;
    expect(calls.samples.map((s) => s.labels)).toEqual([{ name: 'db' }]);
  });

  it('no two families share a name on the wire, in Prometheus or in OpenTelemetry', () => {
    const promWire = new Map<string, string>();
    const otel = new Map<string, string>();
    for (const [name, type] of BUILTIN) {
      for (const w of wire(name, type)) {
        expect(promWire.get(w), `${name} and ${promWire.get(w)} both put ${w} on the wire`).toBeUndefined();
        promWire.set(w, name);
      }
      const o = otelName(name, type);
      expect(otel.get(o), `${name} and ${otel.get(o)} are both the instrument ${o}`).toBeUndefined();
      otel.set(o, name);
    }
  });

  it.each([
    ['text', () => new Registry()],
    ['OpenMetrics', () => openMetricsRegistry()],
  ] as const)('prom-client (%s): every family is scraped, with samples, none skipped, no warning', async (_format, make) => {
    const warn = vi.spyOn(process, 'emitWarning');
    const { registry, bus } = everything();
    const prom = make();
    const exp = registerAtomicStats(registry, { register: prom as Registry, buses: [bus] });
    const text = await prom.metrics();
    expect(exp.skipped).toEqual([]);
    expect(warn.mock.calls.filter((c) => (c[1] as { code?: string } | undefined)?.code === 'ATOMIC_STATS_NAME_COLLISION')).toEqual([]);
    const om = prom.contentType.startsWith('application/openmetrics-text');
    const { types, samples } = exposition(text);
    for (const [name, type] of BUILTIN) {
      const family = om && type === 'counter' ? name.replace(/_total$/, '') : name;
      expect(types.get(family), name).toBe(type);
      const expected = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      expect([...samples.get(family)!].sort(), name).toEqual(expected.sort());
    }
    expect(types.size).toBe(BUILTIN.length);
    // The step-duration histogram holds both observations of the step that asked for it.
    expect(text).toMatch(/^atomic_stats_step_execution_duration_seconds_count\{name="timed"\} 2$/m);
    expect(text).toMatch(/^atomic_stats_step_execution_duration_seconds_sum\{name="timed"\} 1$/m);
    expect(text).toMatch(/^atomic_stats_step_execution_seconds_total\{name="plain"\} 0\.01$/m);
  });

  it('the bulkhead and rate limiter families carry their values (prom-client text and OpenTelemetry)', async () => {
    const { registry, bus } = everything();
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom, buses: [bus] });
    const text = await prom.metrics();
    for (const line of [
      'atomic_stats_bulkhead_active_calls{name="payments"} 1',
      'atomic_stats_bulkhead_max_concurrent_calls{name="payments"} 1',
      'atomic_stats_bulkhead_calls_total{name="payments",outcome="admitted"} 1',
      'atomic_stats_bulkhead_calls_total{name="payments",outcome="rejected"} 1',
      'atomic_stats_rate_limiter_requests_total{name="geo",outcome="granted"} 2',
      'atomic_stats_rate_limiter_requests_total{name="geo",outcome="refused"} 1',
      'atomic_stats_rate_limiter_granted_tokens_total{name="geo"} 2',
      'atomic_stats_rate_limiter_available_tokens{name="geo"} 0',
    ]) {
      expect(text).toContain(line);
    }
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { buses: [bus], include: 'all' })] });
    new MeterProvider({ readers: [reader] });
    const metrics = await collected(reader);
    const calls = metrics.find((m) => m.descriptor.name === 'atomic_stats_bulkhead_calls')!;
    expect(calls.dataPoints.map((p) => [p.attributes['atomic_stats.outcome'], p.value]).sort()).toEqual([
      ['admitted', 1],
      ['queue_abort', 0],
      ['queue_timeout', 0],
      ['rejected', 1],
    ]);
  });

  it('promtool check metrics passes the text scrape of every family', async () => {
    const { registry, bus } = everything();
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom, buses: [bus] });
    const text = await prom.metrics();
    expect(text).toContain('atomic_stats_step_execution_duration_seconds_bucket{le="+Inf",name="timed"} 2');
    const { status, problems } = promtool(text);
    expect(problems).toEqual([]);
    expect(status).toBe(0);
  });

  it('OpenTelemetry SDK, observeAtomicStats beside the histogram producer: every family once, under its mapped name', async () => {
    const { registry, bus } = everything();
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { buses: [bus] })] });
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('app'), { buses: [bus] });
    const metrics = await collected(reader);
    const names = metrics.map((m) => m.descriptor.name);
    expect([...names].sort()).toEqual(BUILTIN.map(([n, t]) => otelName(n, t)).sort());
    for (const m of metrics) expect(m.dataPoints.length, m.descriptor.name).toBeGreaterThan(0);
    const h = metrics.find((m) => m.descriptor.name === 'atomic_stats_step_execution_duration_seconds')!;
    expect(h.dataPoints.map((p) => [p.attributes, (p.value as { count: number }).count])).toEqual([[{ 'atomic_stats.name': 'timed' }, 2]]);
    const c = metrics.find((m) => m.descriptor.name === 'atomic_stats_step_execution_seconds')!;
    expect(c.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ 'atomic_stats.name': 'plain' }, 0.01],
      [{ 'atomic_stats.name': 'timed' }, 1],
    ]);
    await provider.shutdown();
  });

  it("OpenTelemetry SDK, the producer with include: 'all': every family once, under its mapped name", async () => {
    const { registry, bus } = everything();
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(registry, { buses: [bus], include: 'all' })] });
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = await collected(reader);
    expect(metrics.map((m) => m.descriptor.name).sort()).toEqual(BUILTIN.map(([n, t]) => otelName(n, t)).sort());
    await provider.shutdown();
  });
});
