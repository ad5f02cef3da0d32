import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StatsRegistry, type BackendKind } from '../src/index.js';
import { observeAtomicStats } from '../src/opentelemetry.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { startWorkers } from './helpers.js';

const ITERATIONS = 20_000;

/**
 * Three workers do ITERATIONS each on every kind of entry; a fourth loops until it is
 * terminated. Returns the registry (main thread) and the victim's own iteration count.
 */
async function workedRegistry(backends: BackendKind[]) {
  const registry = StatsRegistry.create();
  const run = startWorkers<{ done: number } | undefined>(
    'export-worker.mjs',
    [...backends.map((backend) => ({ mode: 'work', handle: registry.handle, backend, iterations: ITERATIONS })), { mode: 'victim', handle: registry.handle, backend: 'wasm' }],
    true,
  );
  const victim = run.workers[3]!;
  await new Promise<void>((resolve) => victim.on('message', (m) => m === 'started' && resolve()));
  const victimIterations = () => registry.counters('victim', ['iterations']).counter('iterations').value();
  while (victimIterations() < 1000) await new Promise((r) => setTimeout(r, 5));
  await victim.terminate();
  const results = await run.results;
  expect(results.slice(0, 3)).toEqual(backends.map(() => ({ done: ITERATIONS })));
  return { registry, victimIterations: victimIterations() };
}

/** `name{labels} value` lines of a Prometheus text scrape, as a map. */
function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('Prometheus export (prom-client)', () => {
  it('scrapes the work of every worker thread, a terminated one included, from shared memory', async () => {
    const { registry, victimIterations } = await workedRegistry(['wasm', 'js', 'wasm']);
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom });
    const series = parseScrape(await prom.metrics());

    // The victim may have been stopped inside an iteration: each of its updates is in
    // [iterations, iterations + 1].
    const within = (value: number | undefined, base: number) => {
      expect(value).toBeGreaterThanOrEqual(base + victimIterations);
      expect(value).toBeLessThanOrEqual(base + victimIterations + 1);
    };
    within(series.get('atomic_stats_jobs_done_total{set="jobs"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_step_execution_executed_total{name="steps"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_event_bus_events_dispatched_total{name="orders"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_circuit_breaker_calls_total{name="db"}'), 3 * ITERATIONS);
    expect(series.get('atomic_stats_circuit_breaker_state{name="db"}')).toBe(0);
    expect(series.get('atomic_stats_registry_entries')).toBe(registry.entries().length);

    // And every series equals what the registry itself reads, exactly.
    for (const family of registry.collect()) {
      for (const s of family.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(',');
        expect(series.get(labels ? `${family.name}{${labels}}` : family.name), family.name).toBe(Number(s.value));
      }
    }
  });

  it('sanitizes names, keeps the raw name as a label, and picks up entries created later', async () => {
    const registry = StatsRegistry.create();
    const prom = new Registry();
    const exp = registerAtomicStats(registry, { register: prom });
    registry.counters('http.requests-v2', ['ok']).counter('ok').add(7);
    registry.counters('2fast', ['n']).counter('n').inc();
    // Created after registration: found by this scrape, reported from the next one.
    expect(await prom.metrics()).not.toContain('http_requests_v2');
    const text = await prom.metrics();
    expect(text).toContain('atomic_stats_http_requests_v2_ok_total{set="http.requests-v2"} 7');
    expect(text).toContain('atomic_stats__2fast_n_total{set="2fast"} 1');
    registry.stepExecutionStats('later');
    exp.sync();
    expect(await prom.metrics()).toContain('atomic_stats_step_execution_executed_total{name="later"} 0');
    exp.unregister();
    expect(await prom.metrics()).not.toContain('atomic_stats_');
  });

  it('reports live bus fields as gauges, breaker state as a gauge, and rounds only above 2^53', async () => {
    const registry = StatsRegistry.create();
    const { InProcessEventBus } = await import('../src/index.js');
    const bus = new InProcessEventBus({ registry, name: 'live' });
    bus.subscribe('a.*', () => {});
    bus.subscribe('a.*', () => {});
    bus.subscribe('b', () => {});
    const receiver = bus.subscribeBroadcast();
    registry.circuitBreaker('b1').forceOpen();
    registry.counters('big', ['v']).counter('v').addBigInt(2n ** 60n + 1n);
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom, buses: [bus] });
    const series = parseScrape(await prom.metrics());
    expect(series.get('atomic_stats_event_bus_rust_subscriber_patterns{name="live"}')).toBe(2);
    expect(series.get('atomic_stats_event_bus_rust_handler_count{name="live"}')).toBe(3);
    expect(series.get('atomic_stats_event_bus_ffi_subscriber_count{name="live"}')).toBe(1);
    expect(series.get('atomic_stats_circuit_breaker_state{name="b1"}')).toBe(1);
    expect(series.get('atomic_stats_big_v_total{set="big"}')).toBe(2 ** 60); // nearest double
    receiver.close();
  });
});

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function otelPoints(reader: TestReader): Promise<Map<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      for (const p of m.dataPoints) {
        const labels = Object.entries(p.attributes).map(([k, v]) => `${k}=${String(v)}`).join(',');
        out.set(`${m.descriptor.name}{${labels}}`, p.value as number);
      }
    }
  }
  return out;
}

describe('OpenTelemetry export (@opentelemetry/sdk-metrics)', () => {
  it('collected points match the registry snapshots, a terminated worker included', async () => {
    const { registry, victimIterations } = await workedRegistry(['js', 'wasm', 'js']);
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(registry, provider.getMeter('atomic-stats-test'));
    const points = await otelPoints(reader);
    const executed = points.get('atomic_stats_step_execution_executed{name=steps}')!;
    expect(executed - 3 * ITERATIONS - victimIterations).toBeGreaterThanOrEqual(0);
    expect(executed - 3 * ITERATIONS - victimIterations).toBeLessThanOrEqual(1);
    let compared = 0;
    for (const family of registry.collect()) {
      const name = family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
      for (const s of family.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',');
        expect(points.get(`${name}{${labels}}`), name).toBe(Number(s.value));
        compared++;
      }
    }
    expect(compared).toBe(points.size);
    await provider.shutdown();
  });

  it('reports entries created later from the next collection, and stops', async () => {
    const registry = StatsRegistry.create();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const exp = observeAtomicStats(registry, provider.getMeter('t'));
    registry.circuitBreaker('late').forceOpen();
    expect([...(await otelPoints(reader)).keys()].some((k) => k.includes('circuit_breaker'))).toBe(false);
    await new Promise((r) => setTimeout(r, 0));
    const points = await otelPoints(reader);
    expect(points.get('atomic_stats_circuit_breaker_state{name=late}')).toBe(1);
    expect(points.get('atomic_stats_circuit_breaker_times_opened{name=late}')).toBe(1);
    expect(exp.names).toContain('atomic_stats_circuit_breaker_state');
    exp.stop();
    await provider.shutdown();
  });
});
