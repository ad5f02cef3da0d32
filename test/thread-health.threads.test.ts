/*
 * Thread health across real threads: monitored workers (test/workers/health-worker.mjs,
 * which imports the built package), scraped from the main thread, from a serveMetrics
 * thread and from another process.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type BackendKind, type HistogramValue, type MetricFamily, type MetricsServer, StatsRegistry, type ThreadInfo, type ThreadMonitor, serveMetrics } from '../dist/index.js';
import { registerAtomicStats } from '../dist/prometheus.js';
import { BACKENDS } from './helpers/backends.js';
import { runCleanups, startProcess, within } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = new URL('./workers/health-worker.mjs', import.meta.url);

type Mode = 'idle' | 'busy' | 'alloc';
interface Started {
  readonly worker: Worker;
  readonly slot: number;
  readonly threadId: number;
  readonly noSlot: boolean;
  readonly exited: Promise<number>;
}

// Everything a test starts is stopped after it, whatever happened: every cleanup runs
// (a failing one does not skip the others). Child processes are killed by
// test/setup/children.ts.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  const errors = await runCleanups(cleanups);
  if (errors.length > 0) throw errors[0];
});

async function startWorker(registry: StatsRegistry, name: string, mode: Mode = 'idle', { intervalMs = 100, backend = 'auto' as BackendKind } = {}): Promise<Started> {
  const worker = new Worker(SCRIPT, { workerData: { handle: registry.handle, backend, name, intervalMs, mode } });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  cleanups.push(() => worker.terminate());
  const ready = await new Promise<{ slot: number; threadId: number; noSlot: boolean }>((resolve, reject) => {
    worker.on('message', (m) => m?.type === 'ready' && resolve(m));
    worker.once('error', reject);
    void exited.then((code) => reject(new Error(`worker ${name} exited with ${code} before it was ready`)));
  });
  return { worker, exited, ...ready };
}

function monitorMain(registry: StatsRegistry, name = 'main', intervalMs = 100): ThreadMonitor {
  const m = registry.monitorThread({ name, intervalMs });
  cleanups.push(() => m.stop());
  return m;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds of its value; fails after `ms`, quoting the condition and the last value. */
async function until<T>(read: () => T, done: (v: T) => boolean, everyMs = 20, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = read();
    if (done(v)) return v;
    if (Date.now() > deadline) {
      const last = JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
      throw new Error(`timed out after ${ms} ms waiting for ${String(done)}; last value: ${last?.slice(0, 1000)}`);
    }
    await sleep(everyMs);
  }
}

const byName = (families: MetricFamily[]) => new Map(families.map((f) => [f.name, f]));
const threadLabels = (f: MetricFamily | undefined): string[] => (f?.samples ?? []).map((s) => s.labels.thread!);
const GAUGE_FAMILIES = ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_eventloop_lag_p99_seconds', 'atomic_stats_thread_heartbeat_age_seconds', 'atomic_stats_thread_eventloop_utilization_ratio', 'atomic_stats_thread_info'];
const CUMULATIVE_FAMILIES = ['nodejs_gc_duration_seconds', 'atomic_stats_thread_eventloop_delay_seconds'];

/** The count over every series of a histogram family (the total a dashboard sums). */
const totalCount = (f: MetricFamily | undefined): bigint => (f?.samples ?? []).reduce((a, s) => a + (s.value as HistogramValue).count, 0n);

function promtool(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus): ${r.error.message}`);
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
}

describe('thread health across threads', () => {
  it.each(BACKENDS)('4 monitored threads: the thread label has 4 values, the names match, promtool is clean (%s)', async (backend) => {
    const registry = StatsRegistry.create({ backend });
    monitorMain(registry);
    const workers = await Promise.all(['w1', 'w2', 'w3'].map((name) => startWorker(registry, name, 'idle', { backend })));
    const alive = await until(() => registry.threads().filter((t) => t.alive), (t) => t.length === 4);
    expect(alive.map((t) => t.name).sort()).toEqual(['main', 'w1', 'w2', 'w3']);
    expect(alive.map((t) => t.threadId).sort((a, b) => a - b)).toEqual([0, ...workers.map((w) => w.worker.threadId)].sort((a, b) => a - b));
    const families = byName(registry.collect());
    for (const name of GAUGE_FAMILIES) expect(new Set(threadLabels(families.get(name))).size, name).toBe(4);
    const info = families.get('atomic_stats_thread_info')!.samples.map((s) => s.labels);
    expect(info.map((l) => l.name).sort()).toEqual(['main', 'w1', 'w2', 'w3']);
    for (const t of alive) expect(info).toContainEqual({ thread: String(t.slot), thread_id: String(t.threadId), name: t.name });
    for (const w of workers) expect(alive.find((t) => t.threadId === w.threadId)!.slot).toBe(w.slot);
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom });
    expect(promtool(await prom.metrics())).toEqual([]);
  });

  it("a busy worker's utilisation is above 0.8, an idle one's below 0.2", async () => {
    const registry = StatsRegistry.create();
    const busy = await startWorker(registry, 'busy', 'busy', { intervalMs: 200 });
    const idle = await startWorker(registry, 'idle', 'idle', { intervalMs: 200 });
    // Three intervals in: the figure is the last whole interval's.
    const [b, i] = await until(
      () => [busy, idle].map((w) => registry.threads().find((t) => t.threadId === w.threadId)!),
      (ts) => ts.every((t) => t.monitoredForMs > 700),
    );
    expect(b!.eventLoopUtilization).toBeGreaterThan(0.8);
    expect(i!.eventLoopUtilization).toBeLessThan(0.2);
    const utilization = byName(registry.collect()).get('atomic_stats_thread_eventloop_utilization_ratio')!.samples;
    expect(utilization.find((s) => s.labels.thread === String(busy.slot))!.value).toBeGreaterThan(0.8);
    expect(utilization.find((s) => s.labels.thread === String(idle.slot))!.value).toBeLessThan(0.2);
  });

  it('a terminated worker: its gauge series are gone by the next scrape, the totals of its cumulative counts do not fall', async () => {
    const registry = StatsRegistry.create();
    monitorMain(registry);
    const victim = await startWorker(registry, 'victim', 'alloc', { intervalMs: 50 });
    const thread = String(victim.slot);
    // Until its pauses and its delay samples are in the slot.
    await until(
      () => byName(registry.collect()),
      (f) => CUMULATIVE_FAMILIES.every((n) => f.get(n)!.samples.some((s) => s.labels.thread === thread && (s.value as HistogramValue).count > 0n)),
    );
    const before = byName(registry.collect());
    for (const name of GAUGE_FAMILIES) expect(threadLabels(before.get(name)), name).toContain(thread);
    await victim.worker.terminate();
    await victim.exited;
    const after = byName(registry.collect());
    for (const name of GAUGE_FAMILIES) expect(threadLabels(after.get(name)), name).not.toContain(thread);
    expect(registry.threads().find((t) => t.threadId === victim.threadId)).toMatchObject({ alive: false, name: 'victim' });
    for (const name of CUMULATIVE_FAMILIES) {
      expect(totalCount(after.get(name)), name).toBeGreaterThanOrEqual(totalCount(before.get(name)));
      // The victim's own series stay, at least as high as they were.
      for (const s of before.get(name)!.samples.filter((x) => x.labels.thread === thread)) {
        const same = after.get(name)!.samples.find((x) => x.labels.thread === thread && x.labels.kind === s.labels.kind)!;
        expect((same.value as HistogramValue).count).toBeGreaterThanOrEqual((s.value as HistogramValue).count);
      }
    }
  });

  it.each(BACKENDS)("a terminated worker's slot reads alive: false, then the next thread takes it over and continues its cumulative counts (%s)", async (backend) => {
    // Two stripes: the main thread's and one more, so the newcomer can only get the victim's.
    const registry = StatsRegistry.create({ stripes: 2, backend });
    const main = monitorMain(registry);
    const victim = await startWorker(registry, 'victim', 'alloc', { intervalMs: 50, backend });
    expect(victim.slot).not.toBe(main.slot);
    const thread = String(victim.slot);
    await until(
      () => byName(registry.collect()),
      (f) => CUMULATIVE_FAMILIES.every((n) => f.get(n)!.samples.some((s) => s.labels.thread === thread && (s.value as HistogramValue).count > 0n)),
    );
    await victim.worker.terminate();
    await victim.exited;
    const ended = byName(registry.collect());
    expect(registry.threads().filter((t) => t.slot === victim.slot)).toEqual([expect.objectContaining({ alive: false, name: 'victim', threadId: victim.threadId })]);
    expect(threadLabels(ended.get('atomic_stats_thread_info'))).not.toContain(thread);

    const heir = await startWorker(registry, 'heir', 'idle', { intervalMs: 50, backend });
    expect(heir.noSlot).toBe(false);
    expect(heir.slot).toBe(victim.slot);
    expect(registry.threads().filter((t) => t.slot === victim.slot)).toEqual([expect.objectContaining({ alive: true, name: 'heir', threadId: heir.threadId })]);
    const after = byName(registry.collect());
    expect(after.get('atomic_stats_thread_info')!.samples.filter((s) => s.labels.thread === thread).map((s) => s.labels)).toEqual([
      { thread, thread_id: String(heir.threadId), name: 'heir' },
    ]);
    // The slot's series continue from the victim's counts: the same series, never lower.
    for (const name of CUMULATIVE_FAMILIES) {
      for (const s of ended.get(name)!.samples.filter((x) => x.labels.thread === thread)) {
        const same = after.get(name)!.samples.find((x) => x.labels.thread === thread && x.labels.kind === s.labels.kind)!;
        expect((same.value as HistogramValue).count, name).toBeGreaterThanOrEqual((s.value as HistogramValue).count);
      }
    }
  });

  it('200 threads churned through a pool: the thread label values and the series stay bounded by the slots; the totals never fall', async () => {
    const stripes = 8;
    const registry = StatsRegistry.create({ stripes });
    monitorMain(registry);
    const slots = new Set<string>();
    const seriesPerFamily = new Map<string, number>();
    let lastTotals = new Map<string, bigint>();
    const scrape = () => {
      const families = byName(registry.collect());
      for (const name of [...GAUGE_FAMILIES, ...CUMULATIVE_FAMILIES]) {
        const f = families.get(name)!;
        for (const t of threadLabels(f)) slots.add(t);
        seriesPerFamily.set(name, Math.max(seriesPerFamily.get(name) ?? 0, f.samples.length));
      }
      const totals = new Map(CUMULATIVE_FAMILIES.map((n) => [n, totalCount(families.get(n))]));
      for (const [n, v] of totals) expect(v, n).toBeGreaterThanOrEqual(lastTotals.get(n) ?? 0n);
      lastTotals = totals;
    };
    let started = 0;
    let unmonitored = 0;
    // Four at a time: each starts, publishes, and ends (every other one terminated).
    const lane = async (): Promise<void> => {
      while (started < 200) {
        const n = started++;
        const w = await startWorker(registry, `pool-${n % 4}`, 'idle', { intervalMs: 20 });
        if (w.noSlot) unmonitored++;
        if (n % 2 === 0) w.worker.postMessage({ type: 'exit' });
        else await w.worker.terminate();
        await w.exited;
        scrape();
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    expect(started).toBe(200);
    // Every slot is one of the registry's; the series of a family are at most one per slot (per GC kind).
    expect([...slots].every((t) => Number(t) >= 0 && Number(t) < stripes)).toBe(true);
    for (const [name, n] of seriesPerFamily) expect(n, name).toBeLessThanOrEqual(name === 'nodejs_gc_duration_seconds' ? stripes * 4 : stripes);
    // The pool's threads had slots: their creator (this thread) handed each back as it ended.
    expect(unmonitored).toBe(0);
    expect(registry.threads().filter((t) => t.alive).map((t) => t.name)).toEqual(['main']);
  });

  it('watchThreads fires exactly once for a 3 s stall, with the stalled thread\'s figures, and not for threads that ended', async () => {
    const registry = StatsRegistry.create();
    const staller = await startWorker(registry, 'staller', 'idle', { intervalMs: 100 });
    const terminated = await startWorker(registry, 'terminated', 'idle', { intervalMs: 100 });
    const exiting = await startWorker(registry, 'exiting', 'idle', { intervalMs: 100 });
    const fired: ThreadInfo[] = [];
    const watch = registry.watchThreads({ stallMs: 1000 }, (info) => fired.push(info));
    cleanups.push(() => watch.stop());
    await terminated.worker.terminate();
    exiting.worker.postMessage({ type: 'exit' });
    await Promise.all([terminated.exited, exiting.exited]);
    const unstalled = new Promise((resolve) => staller.worker.on('message', (m) => m?.type === 'unstalled' && resolve(m)));
    staller.worker.postMessage({ type: 'stall', ms: 3000 });
    await unstalled;
    // Watched on past the stall's end: long enough for the ended threads to have fired, had they.
    await until(() => registry.threads().find((t) => t.threadId === staller.threadId)!, (t) => t.heartbeatAgeMs < 200);
    await sleep(1500);
    expect(fired.map((f) => f.name)).toEqual(['staller']);
    expect(fired[0]).toMatchObject({ threadId: staller.threadId, slot: staller.slot, alive: true, intervalMs: 100 });
    expect(fired[0]!.heartbeatAgeMs).toBeGreaterThanOrEqual(1100);
    expect(fired[0]!.heapUsedBytes).toBeGreaterThan(0);
  });

  it("serveMetrics' scrape of monitored threads, over HTTP: promtool is clean on the text format; in OpenMetrics it has only its known complaint (counters without HELP)", async () => {
    const registry = StatsRegistry.create();
    const main = monitorMain(registry);
    const workers = await Promise.all(['w1', 'w2'].map((name) => startWorker(registry, name, 'alloc', { intervalMs: 50 })));
    // Until every worker's GC pauses are in its slot, so the histograms have counts too.
    const slots = [main.slot, ...workers.map((w) => w.slot)].map(String);
    await until(
      () => byName(registry.collect()).get('nodejs_gc_duration_seconds')!.samples,
      (xs) => workers.every((w) => xs.some((x) => x.labels.thread === String(w.slot) && (x.value as HistogramValue).count > 0n)),
    );
    const server = await serveMetrics(registry, { port: 0 });
    cleanups.push(() => server.close());

    const text = await (await fetch(server.url)).text();
    for (const family of ['nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_resources', 'atomic_stats_thread_heartbeat_age_seconds']) {
      const threads = [...text.matchAll(new RegExp(`^${family}\\{thread="(\\d+)"\\} \\S+$`, 'gm'))].map((m) => m[1]);
      expect(threads.sort(), family).toEqual([...slots].sort());
    }
    expect(text).toMatch(/^nodejs_gc_duration_seconds_bucket\{le="\+Inf",thread="\d+",kind="(minor|major|incremental|weakcb)"\} [1-9]\d*$/m);
    expect(text.match(/^process_resident_memory_bytes /gm)).toHaveLength(1);
    expect(promtool(text)).toEqual([]);

    const openMetrics = await (await fetch(server.url, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } })).text();
    expect(openMetrics.endsWith('# EOF\n')).toBe(true);
    expect(openMetrics).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    expect(openMetrics).toMatch(/^atomic_stats_thread_info\{thread="\d+",thread_id="\d+",name="w1"\} 1$/m);
    const counters = [...openMetrics.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => `${m[1]}_total no help text`);
    expect(counters).toContain('process_cpu_seconds_total no help text');
    for (const p of promtool(openMetrics)) expect(counters, p).toContain(p);
  });

  it('serveMetrics answers a separate process while the main thread blocks for 2.5 s, the main thread\'s heartbeat age at 1 s or more', async () => {
    const registry = StatsRegistry.create();
    const main = monitorMain(registry, 'main', 100);
    const phase = registry.gauge({ name: 'serve_block_phase', help: 'Where the test thread is: 0 before its block, 1 in it, 2 after.' });
    const server: MetricsServer = await within(serveMetrics(registry, { port: 0 }), 30_000, 'serveMetrics() to start its thread');
    cleanups.push(() => within(server.close(), 20_000, 'the metrics server to close'));
    const scraper = startProcess(process.execPath, [join(ROOT, 'test/workers/scrape-heartbeat.mjs'), server.url, String(main.slot)]);
    await scraper.waitFor((out) => out.includes('ready\n'), 30_000, 'the scraper to print "ready" (its first scrape answered)');

    phase.set(1);
    const blockStart = Date.now();
    while (Date.now() - blockStart < 2500) {
      // busy: this thread's event loop (its monitor's timer included) runs nothing for 2.5 s
    }
    phase.set(2);

    // It ends once it has read phase 2 (and gives up by itself after 60 s).
    expect((await scraper.exited(90_000, 'the scraper to read phase 2 and exit')).code, scraper.stderr()).toBe(0);
    const { ages } = JSON.parse(scraper.stdout().trim().split('\n').at(-1)!) as { ages: number[] };
    // Scrapes were answered during the block: every one but the last of those that read
    // phase 1 was answered before the next one read it (they are sequential), so while
    // this thread was still blocked. One of those showed its heartbeat at least 1 s old.
    expect(ages.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...ages.slice(0, -1))).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
