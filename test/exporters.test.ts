import { Counter as PromCounter, Gauge as PromGauge, Registry, collectDefaultMetrics } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AtomicStatsError, InProcessEventBus, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { KINDS } from '../src/kind-table.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { startWorkers } from './helpers/workers.js';
import { ITERATIONS, openMetricsRegistry, parseScrape, workedRegistry } from './helpers/exporters.js';
import { syntheticHistogram, withExtraFamilies } from './helpers/families.js';
import { captureWarnings } from './helpers/warnings.js';

/** The scrape line key for a sample, labels in the order collect() gives them. */
const key = (name: string, labels: Readonly<Record<string, string>>) => {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',');
  return l ? `${name}{${l}}` : name;
};

/** What a scrape renders: every metric's name, type and samples. */
async function snapshotOf(prom: Registry) {
  return { text: await prom.metrics(), names: prom.getMetricsAsArray().map((m) => m.name) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('collect(): built-in families', () => {
  it('uses base units, outcome and state labels, and keeps counter sets in their own namespace', () => {
    const r = StatsRegistry.create();
    r.stepExecutionStats('steps').recordSuccess(1500);
    r.stepExecutionStats('steps').recordFailure();
    const b = r.circuitBreaker('db', { failureThreshold: 1 });
    b.recordSuccess(2_500_000_000);
    b.recordFailure(500_000_000);
    r.counters('circuit_breaker', ['calls']).counter('calls').add(9);
    const byName = new Map(r.collect().map((f) => [f.name, f]));
    const samples = (n: string) => byName.get(n)!.samples.map((s) => [s.labels, s.value]);

    expect(samples('atomic_stats_step_executions_total')).toEqual([
      [{ name: 'steps', outcome: 'success' }, 1n],
      [{ name: 'steps', outcome: 'failure' }, 1n],
    ]);
    expect(samples('atomic_stats_step_execution_seconds_total')).toEqual([[{ name: 'steps' }, 1.5]]);
    expect(samples('atomic_stats_circuit_breaker_call_duration_seconds_total')).toEqual([[{ name: 'db' }, 3]]);
    // The set named circuit_breaker does not merge into the breakers' family.
    expect(samples('atomic_stats_circuit_breaker_calls_total')).toEqual([
      [{ name: 'db', outcome: 'success' }, 1n],
      [{ name: 'db', outcome: 'failure' }, 1n],
    ]);
    expect(samples('atomic_stats_set_circuit_breaker_total')).toEqual([[{ set: 'circuit_breaker', field: 'calls' }, 9n]]);
    expect(samples('atomic_stats_circuit_breaker_state')).toEqual([
      [{ name: 'db', state: 'closed' }, 0],
      [{ name: 'db', state: 'open' }, 1],
      [{ name: 'db', state: 'half_open' }, 0],
    ]);
    for (const f of byName.values()) {
      expect(f.name).toMatch(/^atomic_stats_[a-z0-9_]+$/);
      expect(f.name, 'no vocabulary of the original system').not.toMatch(/rust|ffi|_ms|nanos/);
      expect(f.name.endsWith('_total')).toBe(f.type === 'counter');
      expect(f.name).not.toMatch(/_count$/);
      expect(f.unit).toBeTruthy();
      // One label set per family.
      const labelSets = new Set(f.samples.map((s) => Object.keys(s.labels).join(',')));
      expect(labelSets.size).toBeLessThanOrEqual(1);
    }
  });

  it('exports __proto__, constructor and friends as set and field names exactly, never NaN', () => {
    const r = StatsRegistry.create();
    const tricky = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    tricky.forEach((f, i) => r.counters(f, tricky).counter(f).add(i + 1));
    const byName = new Map(r.collect().map((f) => [f.name, f]));
    tricky.forEach((t, i) => {
      const f = byName.get(`atomic_stats_set_${t}_total`)!;
      expect(f.samples.every((s) => s.labels.set === t)).toBe(true);
      expect(f.samples.map((s) => s.labels.field)).toEqual(tricky);
      expect(f.samples.map((s) => s.value)).toEqual(tricky.map((_, j) => (j === i ? BigInt(i + 1) : 0n)));
    });
  });

  it('skips records whose signature is not what this version writes, or describes cells outside the record', () => {
    const { warnings } = captureWarnings();
    const r = StatsRegistry.create();
    const open = (name: string, kind: string, descriptor: Record<string, unknown>, bytes: number) =>
      (r as unknown as { openEntry(n: string, k: unknown, d: Record<string, unknown>, b: number, f: () => null): null }).openEntry(name, KINDS.find((k) => k.name === kind), descriptor, bytes, () => null);
    const many = Array.from({ length: 100 }, (_, i) => `f${i}`);
    open('liar', 'counters', { fields: many, striped: false }, 8); // 100 cells claimed, 8 bytes held
    open('notarray', 'counters', { fields: 'abc', striped: false }, 64);
    open('dupes', 'counters', { fields: ['a', 'a'], striped: false }, 64);
    open('nonstring', 'counters', { fields: [1, 2], striped: false }, 64);
    open('wrongstruct', 'stepExecutionStats', { fields: ['x', 'y', 'z', 'w'], striped: false }, 64);
    r.counters('fine', ['v']).counter('v').add(2);
    const families = r.collect();
    const sets = families.filter((f) => f.name.startsWith('atomic_stats_set_'));
    expect(sets.map((f) => [f.name, f.samples.map((s) => s.value)])).toEqual([['atomic_stats_set_fine_total', [2n]]]);
    expect(families.some((f) => f.name.startsWith('atomic_stats_step_'))).toBe(false);
    // The five records the signature check refuses are corrupt: not counted as entries.
    expect(families.find((f) => f.name === 'atomic_stats_registry_entries')!.samples[0]!.value).toBe(1);
    expect(r.usage().corruptRecords).toBe(5);
    // One warning for the five, from the first listing; later ones repeat nothing.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ type: 'AtomicStatsWarning', code: 'ERR_CORRUPT_REGISTRY' });
    expect(warnings[0]!.message).toContain('skipped 5 corrupt registry records');
  });

  it('returns the same frozen label objects at every collection (what lets prom-client cache them)', () => {
    const r = StatsRegistry.create();
    r.counters('a', ['x', 'y']);
    r.circuitBreaker('b');
    const first = r.collect().flatMap((f) => f.samples.map((s) => s.labels));
    const second = r.collect().flatMap((f) => f.samples.map((s) => s.labels));
    expect(second.length).toBe(first.length);
    second.forEach((l, i) => expect(l).toBe(first[i]));
    for (const l of first) expect(Object.isFrozen(l)).toBe(true);
  });

  it.each([
    [{ prefix: 'bad-prefix' }, 'prefix'],
    [{ prefix: '9x_' }, 'prefix'],
    [{ prefix: 7 }, 'prefix'],
    [{ buses: {} }, 'buses'],
    [{ buses: [1] }, 'buses'],
    [{ prefixx: 'a' }, 'prefixx'],
  ])('collect(%j) throws InvalidOptionsError naming %s', (options, option) => {
    const r = StatsRegistry.create();
    expect(() => r.collect(options as never)).toThrow(InvalidOptionsError);
    try {
      r.collect(options as never);
    } catch (e) {
      expect((e as InvalidOptionsError).option).toBe(option);
    }
  });
});

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
    within(series.get('atomic_stats_set_jobs_total{set="jobs",field="done"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_step_executions_total{name="steps",outcome="success"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_event_bus_events_published_total{name="orders"}'), 3 * ITERATIONS);
    within(series.get('atomic_stats_circuit_breaker_calls_total{name="db",outcome="success"}'), 3 * ITERATIONS);
    expect(series.get('atomic_stats_circuit_breaker_state{name="db",state="closed"}')).toBe(1);
    expect(series.get('atomic_stats_registry_entries')).toBe(registry.entries().length);

    // And every series equals what the registry itself reads, exactly.
    let compared = 0;
    for (const family of registry.collect()) {
      for (const s of family.samples) {
        expect(series.get(key(family.name, s.labels)), family.name).toBe(Number(s.value));
        compared++;
      }
    }
    expect(compared).toBe(series.size);
  });

  it('entries that worker threads create after registration are in the next scrape; scrapes during their work never fail and never go back', async () => {
    const registry = StatsRegistry.create();
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom });
    expect(await prom.metrics()).not.toContain('atomic_stats_set_jobs_total');
    const run = startWorkers<{ done: number }>('export-worker.mjs', [
      { mode: 'work', handle: registry.handle, backend: 'wasm', iterations: ITERATIONS },
      { mode: 'work', handle: registry.handle, backend: 'js', iterations: ITERATIONS },
    ]);
    let finished = false;
    void run.results.finally(() => (finished = true));
    let last = 0;
    let scrapes = 0;
    while (!finished) {
      const v = parseScrape(await prom.metrics()).get('atomic_stats_set_jobs_total{set="jobs",field="done"}') ?? 0;
      expect(v).toBeGreaterThanOrEqual(last);
      last = v;
      scrapes++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await run.results).toEqual([{ done: ITERATIONS }, { done: ITERATIONS }]);
    expect(scrapes).toBeGreaterThan(0);
    const series = parseScrape(await prom.metrics());
    expect(series.get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(2 * ITERATIONS);
    expect(series.get('atomic_stats_step_executions_total{name="steps",outcome="success"}')).toBe(2 * ITERATIONS);
    expect(series.get('atomic_stats_circuit_breaker_calls_total{name="db",outcome="success"}')).toBe(2 * ITERATIONS);
  });

  it('lists entries created after registration in the very next scrape, text and JSON alike', async () => {
    const registry = StatsRegistry.create();
    const prom = new Registry();
    const exp = registerAtomicStats(registry, { register: prom });
    registry.counters('http.requests-v2', ['ok']).counter('ok').add(7);
    registry.counters('2fast', ['n']).counter('n').inc();
    const text = await prom.metrics();
    expect(text).toContain('atomic_stats_set_http_requests_v2_total{set="http.requests-v2",field="ok"} 7');
    expect(text).toContain('atomic_stats_set_2fast_total{set="2fast",field="n"} 1');
    registry.stepExecutionStats('later').recordSuccess(2);
    const json = await prom.getMetricsAsJSON();
    const steps = json.find((m) => m.name === 'atomic_stats_step_executions_total')!;
    expect(steps.values).toContainEqual({ labels: { name: 'later', outcome: 'success' }, value: 1 });
    expect(exp.names).toContain('atomic_stats_step_executions_total');
    exp.unregister();
    expect(await prom.metrics()).not.toContain('atomic_stats_');
    expect(Object.hasOwn(prom, 'getMetricsAsArray')).toBe(false); // the listing is restored
  });

  it('skips a family whose name an application metric already has, with one warning, and every scrape still works', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(3);
    const prom = new Registry();
    collectDefaultMetrics({ register: prom });
    const mine = new PromGauge({ name: 'atomic_stats_registry_used_bytes', help: 'the application’s own', registers: [prom] });
    mine.set(5);
    const exp = registerAtomicStats(registry, { register: prom });
    expect(exp.skipped).toEqual(['atomic_stats_registry_used_bytes']);
    for (let i = 0; i < 3; i++) {
      const series = parseScrape(await prom.metrics());
      expect(series.get('atomic_stats_registry_used_bytes')).toBe(5);
      expect(series.get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(3);
      expect([...series.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total'))).toBe(true);
    }
    const warnings = warn.mock.calls.filter((c) => (c[1] as { code?: string })?.code === 'ATOMIC_STATS_NAME_COLLISION');
    expect(warnings.length).toBeLessThanOrEqual(1); // once per name and process (an earlier test may have warned)
  });

  it('steps aside when the application registers a colliding metric later (its own wins), scrapes keep working', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counters('late', ['x']).counter('x').add(2);
    const prom = openMetricsRegistry();
    const exp = registerAtomicStats(registry, { register: prom });
    expect(await prom.metrics()).toContain('atomic_stats_set_late_total{set="late",field="x"} 2');
    // Not the same registry key, but the same family on the wire in OpenMetrics.
    new PromCounter({ name: 'atomic_stats_set_late', help: 'app', registers: [prom] }).inc(11);
    const text = await prom.metrics();
    expect(text.match(/^# TYPE atomic_stats_set_late counter$/gm)).toHaveLength(1);
    expect(text).toContain('atomic_stats_set_late_total 11');
    expect(text).not.toContain('field="x"');
    expect(exp.skipped).toContain('atomic_stats_set_late_total');
  });

  it('a metric registered later under exactly the name of one of ours: prom-client refuses it, our family stays', async () => {
    const registry = StatsRegistry.create();
    registry.counters('late', ['x']).counter('x').add(2);
    const prom = new Registry();
    const exp = registerAtomicStats(registry, { register: prom });
    const before = await prom.metrics();
    expect(() => new PromCounter({ name: 'atomic_stats_set_late_total', help: 'app', registers: [prom] })).toThrow(
      'A metric with the name atomic_stats_set_late_total has already been registered.',
    );
    expect(await prom.metrics()).toBe(before);
    expect(exp.skipped).toEqual([]);
    expect(exp.names).toContain('atomic_stats_set_late_total');
  });

  it('a registry read that throws leaves every scrape working: our families are empty for that scrape, one warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(3);
    const prom = new Registry();
    collectDefaultMetrics({ register: prom });
    registerAtomicStats(registry, { register: prom });
    const collect = registry.collect.bind(registry);
    registry.collect = () => {
      throw new Error('broken read');
    };
    for (let i = 0; i < 2; i++) {
      const series = parseScrape(await prom.metrics());
      expect([...series.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total'))).toBe(true);
      expect(series.has('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(false);
    }
    expect(warn.mock.calls.filter((c) => (c[1] as { code?: string })?.code === 'ATOMIC_STATS_COLLECT_FAILED')).toHaveLength(1);
    registry.collect = collect;
    expect(parseScrape(await prom.metrics()).get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(3);
  });

  it('two registries on one prom-client Registry: the first keeps the shared names, the second adds only its own, scrapes work', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const a = StatsRegistry.create();
    const b = StatsRegistry.create();
    a.counters('shared', ['v']).counter('v').add(1);
    b.counters('shared', ['v']).counter('v').add(2);
    b.counters('only_b', ['v']).counter('v').add(3);
    const prom = new Registry();
    registerAtomicStats(a, { register: prom });
    const expB = registerAtomicStats(b, { register: prom });
    expect(expB.skipped).toEqual(expect.arrayContaining(['atomic_stats_registry_entries', 'atomic_stats_set_shared_total']));
    const series = parseScrape(await prom.metrics());
    expect(series.get('atomic_stats_set_shared_total{set="shared",field="v"}')).toBe(1);
    expect(series.get('atomic_stats_set_only_b_total{set="only_b",field="v"}')).toBe(3);
    expect(series.get('atomic_stats_registry_entries')).toBe(1);
  });

  it('after register.clear(), the families are registered again at the next scrape', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(5);
    const prom = new Registry();
    const exp = registerAtomicStats(registry, { register: prom });
    prom.clear();
    expect(registerAtomicStats(registry, { register: prom })).toBe(exp);
    expect(parseScrape(await prom.metrics()).get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(5);
    expect(exp.names).toContain('atomic_stats_set_jobs_total');
  });

  it('registering twice on one Registry returns the same export; other options are a typed error that changes nothing', async () => {
    const registry = StatsRegistry.create();
    registry.counters('c', ['v']);
    const prom = new Registry();
    const a = registerAtomicStats(registry, { register: prom });
    expect(registerAtomicStats(registry, { register: prom })).toBe(a);
    const before = await snapshotOf(prom);
    let caught: unknown;
    try {
      registerAtomicStats(registry, { register: prom, prefix: 'other_' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    expect((caught as InvalidOptionsError).option).toBe('register');
    expect(await snapshotOf(prom)).toEqual(before);
    a.unregister();
    const b = registerAtomicStats(registry, { register: prom, prefix: 'other_' });
    expect(b).not.toBe(a);
    expect(await prom.metrics()).toContain('other_set_c_total{set="c",field="v"} 0');
  });

  it.each([
    [{ register: {} }, 'register'],
    [{ prefix: 'a b' }, 'prefix'],
    [{ unknown: 1 }, 'unknown'],
    [[], 'options'],
  ])('registerAtomicStats(%j) throws InvalidOptionsError naming %s and registers nothing', async (options, option) => {
    const registry = StatsRegistry.create();
    const prom = new Registry();
    const before = await snapshotOf(prom);
    const withRegister = typeof options === 'object' && !Array.isArray(options) && !('register' in options) ? { ...options, register: prom } : options;
    let caught: unknown;
    try {
      registerAtomicStats(registry, withRegister as never);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AtomicStatsError);
    expect((caught as InvalidOptionsError).option).toBe(option);
    expect(await snapshotOf(prom)).toEqual(before);
    expect(Object.hasOwn(prom, 'getMetricsAsArray')).toBe(false);
  });

  it('renders histogram families (buckets, sum, count) and OpenMetrics counters without _total_total', async () => {
    const registry = withExtraFamilies(StatsRegistry.create(), () => [syntheticHistogram()]);
    registry.counters('jobs', ['done']).counter('done').add(4);
    const text = await (async () => {
      const prom = new Registry();
      registerAtomicStats(registry, { register: prom });
      return prom.metrics();
    })();
    expect(text).toContain('# TYPE app_job_duration_seconds histogram');
    expect(text).toContain('app_job_duration_seconds_bucket{le="0.5",queue="fast"} 90');
    expect(text).toContain('app_job_duration_seconds_bucket{le="+Inf",queue="fast"} 100');
    expect(text).toContain('app_job_duration_seconds_sum{queue="fast"} 21.5');
    expect(text).toContain('app_job_duration_seconds_count{queue="slow \\"q\\"\\\\x"} 3');
    expect(text).toContain('# TYPE atomic_stats_set_jobs_total counter');

    const om = openMetricsRegistry();
    registerAtomicStats(registry, { register: om });
    for (let i = 0; i < 2; i++) {
      const omText = await om.metrics();
      expect(omText).not.toContain('_total_total');
      expect(omText).toContain('# TYPE atomic_stats_set_jobs counter');
      expect(omText).toContain('atomic_stats_set_jobs_total{set="jobs",field="done"} 4');
      expect(omText).toContain('# TYPE app_job_duration_seconds histogram');
      expect(omText.endsWith('# EOF\n')).toBe(true);
    }
    // The JSON of an OpenMetrics registry names counter families as its text does.
    expect((await om.getMetricsAsJSON()).map((m) => m.name)).toContain('atomic_stats_set_jobs');
  });

  it('reports live bus fields as gauges and rounds only above 2^53', async () => {
    const registry = StatsRegistry.create();
    const bus = new InProcessEventBus({ registry, name: 'live' });
    bus.subscribe('a.*', () => {});
    bus.subscribe('a.*', () => {});
    bus.subscribe('b', () => {});
    const receiver = bus.subscribeBroadcast();
    registry.counters('big', ['v']).counter('v').addBigInt(2n ** 60n + 1n);
    const prom = new Registry();
    prom.setDefaultLabels({ service: 'api' });
    registerAtomicStats(registry, { register: prom, buses: [bus] });
    const series = parseScrape(await prom.metrics());
    expect(series.get('atomic_stats_event_bus_handler_patterns{service="api",name="live"}')).toBe(2);
    expect(series.get('atomic_stats_event_bus_handlers{service="api",name="live"}')).toBe(3);
    expect(series.get('atomic_stats_event_bus_broadcast_receivers{service="api",name="live"}')).toBe(1);
    expect(series.get('atomic_stats_set_big_total{service="api",set="big",field="v"}')).toBe(2 ** 60); // nearest double
    receiver.close();
  });
});
