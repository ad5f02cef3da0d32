/*
 * Thread health in one thread: monitorThread, threads(), watchThreads' checks, what a
 * scrape exports, the thread table's publication protocol against a writer that died
 * half-way, and the fold of the event-loop delay into buckets. The same things across
 * real threads are in thread-health.threads.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  AtomicStatsError,
  InvalidOptionsError,
  type HistogramValue,
  type MetricFamily,
  RegistryClosedError,
  StatsRegistry,
  type ThreadMonitor,
  ThreadMonitorError,
} from '../src/index.js';
import { atomicStatsMetricProducer, observeAtomicStats } from '../src/opentelemetry.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { slotHolder } from '../src/slots.js';
import { COPY_WORDS, DELAY_BOUNDS, F64_COUNT, STATE_RUNNING, SLOT_BYTES, TABLE_NAME, W_COPY0, W_SEQ } from '../src/threads/layout.js';
import { type DelayHistogram, type Pending, Sampler, readDelay, shareAtOrBelow } from '../src/threads/sampler.js';
import { ThreadTable } from '../src/threads/table.js';
import { BACKENDS } from './helpers/backends.js';
import { bytesOf, i32Of, recordOf } from './helpers/memory.js';
import { captureWarnings } from './helpers/warnings.js';

const monitors: ThreadMonitor[] = [];
afterEach(() => {
  for (const m of monitors.splice(0)) m.stop();
});
const monitor = (r: StatsRegistry, options?: Parameters<StatsRegistry['monitorThread']>[0]): ThreadMonitor => {
  const m = r.monitorThread(options);
  monitors.push(m);
  return m;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const family = (r: StatsRegistry, name: string): MetricFamily | undefined => r.collect().find((f) => f.name === name);
const threadValues = (r: StatsRegistry, name: string): string[] => (family(r, name)?.samples ?? []).map((s) => s.labels.thread!);

/** Calls `call`, which must throw `type`, and checks that not one byte of the registry changed. */
function expectRejectedUnchanged(r: StatsRegistry, call: () => unknown, type: abstract new (...a: never[]) => Error): Error {
  const before = bytesOf(r);
  let thrown: unknown;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(type);
  expect(thrown).toBeInstanceOf(AtomicStatsError);
  expect(Buffer.compare(bytesOf(r), before)).toBe(0);
  return thrown as Error;
}

describe('monitorThread and threads()', () => {
  it.each(BACKENDS)('the main thread publishes into its slot at once, and threads() shows its figures (%s)', (backend) => {
    const r = StatsRegistry.create({ backend });
    expect(r.threads()).toEqual([]);
    const m = monitor(r, { name: 'main-thread', intervalMs: 50 });
    expect(m.slot).toBe(r.slot);
    expect(m.active).toBe(true);
    expect(m.name).toBe('main-thread');
    expect(m.intervalMs).toBe(50);
    const [t, ...rest] = r.threads();
    expect(rest).toEqual([]);
    expect(t).toMatchObject({ slot: r.slot, threadId: 0, name: 'main-thread', alive: true, intervalMs: 50 });
    expect(t!.heapUsedBytes).toBeGreaterThan(0);
    expect(t!.heapTotalBytes).toBeGreaterThanOrEqual(t!.heapUsedBytes);
    expect(t!.heapLimitBytes).toBeGreaterThan(t!.heapTotalBytes);
    expect(t!.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(t!.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(t!.eventLoopUtilization).toBeLessThanOrEqual(1);
    expect(r.entries().map((e) => e.name)).toContain(TABLE_NAME);
  });

  it('keeps publishing on its timer: the heartbeat moves and the delay is sampled', async () => {
    const r = StatsRegistry.create();
    monitor(r, { intervalMs: 20 });
    const first = r.threads()[0]!;
    await sleep(200);
    const later = r.threads()[0]!;
    expect(later.monitoredForMs).toBeGreaterThan(first.monitoredForMs);
    // Node samples the delay every 10 ms and reports the whole wait.
    expect(later.eventLoopDelayP99Ms).toBeGreaterThan(0);
    expect(later.eventLoopDelayMaxMs).toBeGreaterThanOrEqual(later.eventLoopDelayMinMs);
    const delay = family(r, 'atomic_stats_thread_eventloop_delay_seconds')!.samples[0]!.value as { count: bigint; sum: number };
    expect(delay.count).toBeGreaterThan(0n);
    expect(delay.sum).toBeGreaterThan(0);
  });

  it('is named "main" in the main thread by default, with a 1 s interval and the delay sampled every 20 ms', () => {
    const r = StatsRegistry.create();
    const m = monitor(r);
    expect([m.name, m.intervalMs]).toEqual(['main', 1000]);
    expect(r.threads()[0]).toMatchObject({ name: 'main', intervalMs: 1000, eventLoopDelayResolutionMs: 20 });
  });

  it('samples the delay at the period asked for', () => {
    const r = StatsRegistry.create();
    monitor(r, { delayResolutionMs: 10 });
    expect(r.threads()[0]!.eventLoopDelayResolutionMs).toBe(10);
  });

  it('stop(): the thread is no longer alive, its gauges leave the scrape, its cumulative series stay; idempotent; monitored again after', () => {
    const r = StatsRegistry.create();
    const m = monitor(r, { name: 'a' });
    expect(threadValues(r, 'nodejs_heap_size_used_bytes')).toEqual([String(r.slot)]);
    m.stop();
    m.stop();
    expect(m.active).toBe(false);
    expect(r.threads()).toMatchObject([{ name: 'a', alive: false }]);
    for (const name of ['nodejs_heap_size_used_bytes', 'atomic_stats_thread_heartbeat_age_seconds', 'atomic_stats_thread_info']) expect(threadValues(r, name), name).toEqual([]);
    expect(threadValues(r, 'atomic_stats_thread_eventloop_delay_seconds')).toEqual([String(r.slot)]);
    expect(new Set(threadValues(r, 'nodejs_gc_duration_seconds'))).toEqual(new Set([String(r.slot)]));
    monitor(r, { name: 'b' });
    expect(r.threads()).toMatchObject([{ name: 'b', alive: true }]);
  });

  it('close() of the registry object stops its monitor before the slot goes back', () => {
    const r = StatsRegistry.create();
    const other = StatsRegistry.attach(r.handle);
    const m = other.monitorThread({ name: 'closing' });
    other.close();
    expect(m.active).toBe(false);
    expect(r.threads()).toMatchObject([{ slot: 1, name: 'closing', alive: false }]);
  });

  it("an instrument that throws (a runtime's quirk) costs only its figures: the heartbeat goes on, stop() and close() do not throw, the slot goes back; one warning", async () => {
    const { warnings } = captureWarnings();
    const r = StatsRegistry.create();
    const other = StatsRegistry.attach(r.handle);
    const m = other.monitorThread({ name: 'quirky', intervalMs: 10 });
    const sample = vi.spyOn(Sampler.prototype, 'sample').mockImplementation(() => {
      throw new TypeError('quirky instrument');
    });
    onTestFinished(() => sample.mockRestore());
    const first = r.threads()[0]!;
    await sleep(60);
    const later = r.threads()[0]!;
    expect(sample).toHaveBeenCalled();
    // Published again since: its heartbeat is younger than the first read's was by now.
    expect(later.monitoredForMs - later.heartbeatAgeMs).toBeGreaterThan(first.monitoredForMs - first.heartbeatAgeMs);
    expect(later.alive).toBe(true);
    expect(() => other.close()).not.toThrow();
    expect(m.active).toBe(false);
    expect(r.threads()).toMatchObject([{ name: 'quirky', alive: false }]);
    expect(r.usage().slotsInUse).toBe(1);
    expect(warnings.filter((w) => w.code === 'ATOMIC_STATS_THREAD_MONITOR_FAILED').map((w) => w.message)).toEqual([
      'atomic-stats: a thread monitor could not measure its thread: TypeError: quirky instrument (its figures keep their last values; the heartbeat goes on)',
    ]);
  });

  it('one monitor per thread: a second throws ThreadMonitorError, through the same registry object or another, and changes nothing', () => {
    const r = StatsRegistry.create();
    const other = StatsRegistry.attach(r.handle);
    monitor(r, { name: 'first' });
    for (const target of [r, other]) {
      const err = expectRejectedUnchanged(r, () => target.monitorThread({ name: 'second' }), ThreadMonitorError) as ThreadMonitorError;
      expect(err.code).toBe('ERR_THREAD_MONITOR');
      expect(err.slot).toBe(r.slot);
      expect(err.message).toMatch(/monitored already, as "first" in slot 0/);
    }
    other.close();
  });

  it.each([
    [{ name: '' }, 'name'],
    [{ name: 42 }, 'name'],
    [{ name: 'x'.repeat(65) }, 'name'],
    [{ name: 'é'.repeat(33) }, 'name'],
    [{ name: '\uD800' }, 'name'],
    [{ intervalMs: 9 }, 'intervalMs'],
    [{ intervalMs: 3_600_001 }, 'intervalMs'],
    [{ intervalMs: 1.5 }, 'intervalMs'],
    [{ intervalMs: '1000' }, 'intervalMs'],
    [{ interval: 1000 }, 'interval'],
    [{ delayResolutionMs: 0 }, 'delayResolutionMs'],
    [{ delayResolutionMs: 1001 }, 'delayResolutionMs'],
    [null, 'options'],
    ['main', 'options'],
  ])('rejects monitorThread(%j) naming %s, and creates nothing', (options, option) => {
    const r = StatsRegistry.create();
    const err = expectRejectedUnchanged(r, () => r.monitorThread(options as never), InvalidOptionsError) as InvalidOptionsError;
    expect(err.option).toBe(option);
    expect(r.entries()).toEqual([]);
  });

  it('accepts a name of exactly 64 UTF-8 bytes and keeps it whole', () => {
    const r = StatsRegistry.create();
    const name = `${'é'.repeat(31)}ab`;
    monitor(r, { name });
    expect(r.threads()[0]!.name).toBe(name);
  });

  it('a closed registry object: monitorThread, threads and watchThreads throw RegistryClosedError', () => {
    const r = StatsRegistry.create();
    const other = StatsRegistry.attach(r.handle);
    other.close();
    expect(() => other.monitorThread()).toThrow(RegistryClosedError);
    expect(() => other.threads()).toThrow(RegistryClosedError);
    expect(() => other.watchThreads({}, () => {})).toThrow(RegistryClosedError);
  });

  it('a registry object without a stripe cannot monitor: a warning once, a monitor with slot -1, nothing written', () => {
    const { codes } = captureWarnings();
    const r = StatsRegistry.create({ stripes: 1 });
    const extra = StatsRegistry.attach(r.handle);
    expect(extra.slot).toBeGreaterThanOrEqual(extra.stripes);
    const before = bytesOf(r);
    const m = extra.monitorThread({ name: 'no-slot' });
    expect([m.slot, m.active]).toEqual([-1, false]);
    m.stop();
    expect(Buffer.compare(bytesOf(r), before)).toBe(0);
    extra.monitorThread({ name: 'no-slot' });
    expect(codes()).toEqual(['ATOMIC_STATS_NO_THREAD_SLOT']);
    extra.close();
  });
});

describe('watchThreads: its checks', () => {
  it.each([
    [{ stallMs: 0 }, 'stallMs'],
    [{ stallMs: -5 }, 'stallMs'],
    [{ stallMs: 1.5 }, 'stallMs'],
    [{ stall: 100 }, 'stall'],
    [null, 'options'],
  ])('rejects watchThreads(%j) naming %s', (options, option) => {
    const r = StatsRegistry.create();
    const err = expectRejectedUnchanged(r, () => r.watchThreads(options as never, () => {}), InvalidOptionsError) as InvalidOptionsError;
    expect(err.option).toBe(option);
  });

  it('rejects a callback that is not a function', () => {
    const r = StatsRegistry.create();
    const err = expectRejectedUnchanged(r, () => r.watchThreads({ stallMs: 100 }, 'no' as never), InvalidOptionsError) as InvalidOptionsError;
    expect(err.option).toBe('callback');
  });

  it('does not fire for a thread that publishes on time; stop() is idempotent', async () => {
    const r = StatsRegistry.create();
    monitor(r, { intervalMs: 20 });
    const fired: unknown[] = [];
    const w = r.watchThreads({ stallMs: 2000 }, (info) => fired.push(info));
    await sleep(300);
    w.stop();
    w.stop();
    expect(fired).toEqual([]);
  });
});

describe('what a scrape exports', () => {
  it('nothing of the thread table until a thread is monitored; then the process figures once and the thread families', () => {
    const r = StatsRegistry.create();
    const names = () => r.collect().map((f) => f.name);
    expect(names().filter((n) => !n.startsWith('atomic_stats_registry_'))).toEqual([]);
    monitor(r, { name: 'main' });
    const families = r.collect();
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const name of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_version_info']) {
      expect(byName.get(name)?.samples.length, name).toBe(1);
      expect(byName.get(name)!.samples[0]!.labels.thread, name).toBeUndefined();
    }
    expect(byName.get('process_cpu_seconds_total')!.type).toBe('counter');
    expect(byName.get('nodejs_version_info')!.samples[0]!.labels).toEqual({ version: process.version, major: process.versions.node.split('.')[0], minor: process.versions.node.split('.')[1], patch: process.versions.node.split('.')[2] });
    const thread = String(r.slot);
    for (const name of [
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_min_seconds',
      'nodejs_eventloop_lag_max_seconds',
      'nodejs_eventloop_lag_mean_seconds',
      'nodejs_eventloop_lag_stddev_seconds',
      'nodejs_eventloop_lag_p50_seconds',
      'nodejs_eventloop_lag_p90_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_active_resources',
      'atomic_stats_thread_heartbeat_age_seconds',
      'atomic_stats_thread_eventloop_utilization_ratio',
      'atomic_stats_thread_heap_limit_bytes',
    ]) {
      expect(byName.get(name)?.type, name).toBe('gauge');
      expect(byName.get(name)!.samples.map((s) => s.labels), name).toEqual([{ thread }]);
    }
    expect(byName.get('atomic_stats_thread_info')!.samples).toEqual([{ labels: { thread, thread_id: '0', name: 'main' }, value: 1 }]);
    expect(byName.get('atomic_stats_thread_slots')!.samples).toEqual([{ labels: {}, value: r.stripes }]);
    const gc = byName.get('nodejs_gc_duration_seconds')!;
    expect(gc.type).toBe('histogram');
    expect(gc.samples.map((s) => s.labels)).toEqual(['minor', 'major', 'incremental', 'weakcb'].map((kind) => ({ thread, kind })));
    expect((gc.samples[0]!.value as HistogramValue).buckets.map((b) => b.le)).toEqual([0.001, 0.01, 0.1, 1, 2, 5, Infinity]);
    expect(byName.get('atomic_stats_thread_eventloop_delay_seconds')!.type).toBe('histogram');
  });

  it('the same label objects at every scrape (prom-client caches their rendering by identity)', () => {
    const r = StatsRegistry.create();
    monitor(r);
    const labels = () => r.collect().filter((f) => f.name.startsWith('nodejs_') || f.name.startsWith('atomic_stats_thread_')).flatMap((f) => f.samples.map((s) => s.labels));
    const a = labels();
    const b = labels();
    expect(a.length).toBeGreaterThan(20);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBe(a[i]);
  });

  it('the prefix applies to our names, not to prom-client\'s', () => {
    const r = StatsRegistry.create();
    monitor(r);
    const names = r.collect({ prefix: 'app_' }).map((f) => f.name);
    expect(names).toContain('app_thread_heartbeat_age_seconds');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    expect(names).not.toContain('atomic_stats_thread_heartbeat_age_seconds');
  });

  it('promtool finds nothing to say about the text scrape', async () => {
    const r = StatsRegistry.create();
    monitor(r);
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    const res = spawnSync('promtool', ['check', 'metrics'], { input: await prom.metrics(), encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    expect(res.error).toBeUndefined();
    expect(`${res.stdout}${res.stderr}`).toBe('');
    expect(res.status).toBe(0);
  });

  it("beside prom-client's collectDefaultMetrics(): its families keep their names, ours of the same name step aside (one warning each), the thread families of our own stay", async () => {
    const { warnings } = captureWarnings();
    const r = StatsRegistry.create();
    monitor(r);
    const prom = new Registry();
    collectDefaultMetrics({ register: prom });
    const exp = registerAtomicStats(r, { register: prom });
    const clashing = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_version_info', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'nodejs_active_resources'];
    for (const name of clashing) expect(exp.skipped, name).toContain(name);
    expect(new Set(warnings.map((w) => w.code))).toEqual(new Set(['ATOMIC_STATS_NAME_COLLISION']));
    expect(warnings.length).toBe(exp.skipped.length);
    const text = await prom.metrics();
    // prom-client's own, without a thread label; ours that no default metric has, with one.
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+$/m);
    expect(text).toMatch(/^atomic_stats_thread_heartbeat_age_seconds\{thread="0"\} /m);
    const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    // prom-client's own gauges named like counters are promtool's only remark.
    const remarks = `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.trim() !== '');
    expect(remarks.filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l))).toEqual([]);
  });

  it("collectDefaultMetrics() after the export: prom-client refuses it (its names are taken), the scrape goes on", async () => {
    const r = StatsRegistry.create();
    monitor(r);
    const prom = new Registry();
    registerAtomicStats(r, { register: prom });
    expect(() => collectDefaultMetrics({ register: prom })).toThrow(/already been registered/);
    expect(await prom.metrics()).toMatch(/^nodejs_heap_size_used_bytes\{thread="0"\} \d+$/m);
  });
});

describe('OpenTelemetry carries them too', () => {
  class TestReader extends MetricReader {
    protected async onForceFlush(): Promise<void> {}
    protected async onShutdown(): Promise<void> {}
  }
  const collected = async (reader: TestReader): Promise<MetricData[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics);
  };

  it('observeAtomicStats: the gauges and the process counters; the producer: the histograms, per thread', async () => {
    const r = StatsRegistry.create();
    monitor(r, { name: 'main' });
    const thread = String(r.slot);
    const reader = new TestReader({ metricProducers: [atomicStatsMetricProducer(r)] });
    const provider = new MeterProvider({ readers: [reader] });
    observeAtomicStats(r, provider.getMeter('test'));
    const metrics = new Map((await collected(reader)).map((m) => [m.descriptor.name, m]));
    const points = (name: string) => metrics.get(name)?.dataPoints.map((p) => p.attributes);
    // prom-client's names keep their label names as attributes; ours are namespaced, like every built-in family's.
    expect(points('nodejs_heap_size_used_bytes')).toEqual([{ thread }]);
    expect(metrics.get('nodejs_heap_size_used_bytes')!.descriptor.unit).toBe('By');
    expect(points('atomic_stats_thread_heartbeat_age_seconds')).toEqual([{ 'atomic_stats.thread': thread }]);
    expect(points('atomic_stats_thread_info')).toEqual([{ 'atomic_stats.thread': thread, 'atomic_stats.thread_id': '0', 'atomic_stats.name': 'main' }]);
    expect(points('process_cpu_seconds')).toEqual([{}]);
    expect(points('nodejs_gc_duration_seconds')).toEqual(['minor', 'major', 'incremental', 'weakcb'].map((kind) => ({ thread, kind })));
    expect(points('atomic_stats_thread_eventloop_delay_seconds')).toEqual([{ 'atomic_stats.thread': thread }]);
    await provider.shutdown();
  });
});

describe('the thread table protocol, white-box', () => {
  const figures = (r: StatsRegistry) => {
    const { offset } = recordOf(r, TABLE_NAME);
    const dataOffset = i32Of(r)[(offset + 16) / 4]!;
    return { table: new ThreadTable(r.handle.memory.buffer, dataOffset, r.stripes, r.table), dataOffset };
  };

  it('a publication a writer never finished is never made current: readers get the last complete copy', () => {
    const r = StatsRegistry.create();
    const m = monitor(r, { name: 'whole' });
    const { table, dataOffset } = figures(r);
    const before = table.read(m.slot)!;
    const i32 = i32Of(r);
    const base = (dataOffset + m.slot * SLOT_BYTES) / 4;
    const n = Atomics.load(i32, base + W_SEQ);
    // A writer terminated half-way through publication n + 1: the other copy holds garbage.
    const next = base + W_COPY0 + ((n + 1) & 1) * COPY_WORDS;
    for (let w = 0; w < COPY_WORDS; w++) i32[next + w] = 0x7f7f7f7f;
    const after = table.read(m.slot)!;
    expect(after).toEqual(before);
    expect(after.name).toBe('whole');
  });

  it('bytes that are no figures (a state this version never writes) are no thread; a name length out of bounds is clamped', () => {
    const r = StatsRegistry.create();
    const m = monitor(r, { name: 'x' });
    m.stop();
    const { table, dataOffset } = figures(r);
    const i32 = i32Of(r);
    const base = (dataOffset + m.slot * SLOT_BYTES) / 4;
    const cur = base + W_COPY0 + (Atomics.load(i32, base + W_SEQ) & 1) * COPY_WORDS;
    i32[cur + 3] = 1_000_000; // name length
    expect(table.read(m.slot)!.name.length).toBeLessThanOrEqual(64);
    i32[cur] = 77; // state
    expect(table.read(m.slot)).toBeUndefined();
    expect(r.threads()).toEqual([]);
    expect(() => r.collect()).not.toThrow();
  });

  it('alive means: running, and the stripe is held by the thread that wrote the figures', () => {
    const r = StatsRegistry.create();
    const m = monitor(r);
    const { table } = figures(r);
    const f = table.read(m.slot)!;
    expect(f.state).toBe(STATE_RUNNING);
    expect(f.values.length).toBe(F64_COUNT);
    expect(slotHolder(r.table, m.slot)).toBe(0);
    expect(table.alive(m.slot, f)).toBe(true);
    expect(table.alive(m.slot, { ...f, threadId: 12345 })).toBe(false);
  });
});

describe('folding the event-loop delay into buckets', () => {
  // Percentile points as monitorEventLoopDelay gives them: (percentile, value in ns).
  const points: [number, number][] = [
    [0, 9_000_000],
    [50, 10_000_000],
    [75, 11_000_000],
    [87.5, 20_000_000],
    [100, 300_000_000],
  ];

  it('0 below the min, 1 at or above the max, the points themselves at their values, linear between', () => {
    expect(shareAtOrBelow(points, 9_000_000, 300_000_000, 8_000_000)).toBe(0);
    expect(shareAtOrBelow(points, 9_000_000, 300_000_000, 300_000_000)).toBe(1);
    expect(shareAtOrBelow(points, 9_000_000, 300_000_000, 10_000_000)).toBe(0.5);
    expect(shareAtOrBelow(points, 9_000_000, 300_000_000, 10_500_000)).toBeCloseTo(0.625, 12);
    expect(shareAtOrBelow(points, 9_000_000, 300_000_000, 160_000_000)).toBeCloseTo(0.9375, 12);
  });

  it('never decreases as the bound grows', () => {
    let last = 0;
    for (let b = 8_000_000; b < 310_000_000; b += 1_000_000) {
      const s = shareAtOrBelow(points, 9_000_000, 300_000_000, b);
      expect(s).toBeGreaterThanOrEqual(last);
      last = s;
    }
  });

  // A histogram with these points and 64 samples; `big` gives its percentile values as
  // bigints, as Bun's monitorEventLoopDelay() does.
  const histogram = (big: boolean) => {
    let resets = 0;
    const h = {
      count: 64,
      min: 9_000_000,
      max: 300_000_000,
      mean: 15_000_000,
      stddev: 4_000_000,
      percentile: (p: number) => points.find(([q]) => q >= p)![1],
      percentiles: new Map(points.map(([p, v]) => [p, big ? BigInt(v) : v])),
      reset: () => void resets++,
    };
    return { h: h as unknown as DelayHistogram, resets: () => resets };
  };
  const pending = (): Pending => ({ delayCounts: new Float64Array(DELAY_BOUNDS.length + 1), delaySum: 0, gcCounts: new Float64Array(0), gcSums: new Float64Array(0) });

  it("reads a histogram whose percentile values are bigints (Bun's) as one of numbers", () => {
    const read = (big: boolean) => {
      const { h, resets } = histogram(big);
      const values = new Float64Array(F64_COUNT);
      const p = pending();
      readDelay(h, values, p);
      return { values: [...values], counts: [...p.delayCounts], sum: p.delaySum, resets: resets() };
    };
    const numbers = read(false);
    expect(numbers.counts.reduce((a, b) => a + b, 0)).toBe(64);
    expect(numbers.sum).toBeCloseTo(0.96, 12);
    expect(numbers.resets).toBe(1);
    expect(read(true)).toEqual(numbers);
  });
});
