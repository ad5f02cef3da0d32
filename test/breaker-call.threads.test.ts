/*
 * call() on one breaker from several real worker threads (test/workers/breaker-call-worker.mjs,
 * which runs the built package): hung calls with a timeout, caller aborts (of plain
 * permits and of half-open probes), hostile results, opening by name, and workers
 * terminated while their calls are pending. Every check is an exact count.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry, CircuitBreakerConfig } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';

const WORKER = new URL('./workers/breaker-call-worker.mjs', import.meta.url);
const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

const MIXES: [string, BackendKind[]][] = [
  ['wasm', ['wasm', 'wasm', 'wasm']],
  ['js', ['js', 'js', 'js']],
  ['wasm and js mixed', ['wasm', 'js', 'wasm', 'js']],
];

interface Run<R> {
  workers: Worker[];
  /** The message other than 'ready' each worker posts first. */
  results: Promise<R[]>;
}

/**
 * Starts one worker per backend, waits until all are ready, then releases them together
 * through a shared start flag.
 */
async function run<R>(registry: StatsRegistry, backends: BackendKind[], data: Record<string, unknown>): Promise<Run<R>> {
  const start = new Int32Array(new SharedArrayBuffer(4));
  const workers = backends.map((backend, index) => {
    const w = new Worker(WORKER, { workerData: { handle: registry.handle, backend, start, index, ...data } });
    live.push(w);
    return w;
  });
  const ready: Promise<void>[] = [];
  const results = workers.map(
    (w) =>
      new Promise<R>((resolve, reject) => {
        let readyResolve!: () => void;
        ready.push(new Promise((r) => (readyResolve = r)));
        w.on('message', (m: unknown) => {
          if (m === 'ready') readyResolve();
          else resolve(m as R);
        });
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
      }),
  );
  await Promise.all(ready);
  Atomics.store(start, 0, 1);
  Atomics.notify(start, 0);
  return { workers, results: Promise.all(results) };
}

describe.each(MIXES)('call() from worker threads, %s', (_label, backends) => {
  const n = backends.length;

  it('hung calls with a timeout: each is exactly one failure, late settlements change nothing', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const breaker = registry.circuitBreaker('hung', { failureThreshold: 100, callTimeoutMs: 60_000 });
    const calls = 16;
    const { results } = await run<{ timeouts: number }>(registry, backends, { mode: 'timeouts', name: 'hung', calls, timeoutMs: 15, lateMs: 40 });
    const got = await results;
    expect(got.map((r) => r.timeouts)).toEqual(backends.map(() => calls));
    expect(breaker.metrics()).toMatchObject({ total_calls: n * calls, failure_count: n * calls, success_count: 0, current_state: 'Closed' });
  });

  it('caller aborts: prompt rejections with the reason, fn’s signal aborted, Closed permits not recorded, pre-aborted calls never run', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const breaker = registry.circuitBreaker('abort', { failureThreshold: 1 });
    const calls = 12;
    const { results } = await run<{ ran: number; innerAborted: number; aborted: number; preRejected: number; preRan: number }>(registry, backends, {
      mode: 'aborts',
      name: 'abort',
      calls,
    });
    for (const r of await results) expect(r).toEqual({ ran: calls, innerAborted: calls, aborted: calls, preRejected: calls, preRan: 0 });
    // With failureThreshold 1, a single recorded abort would have opened it.
    expect(breaker.metrics()).toMatchObject({ total_calls: 0, rejected_calls: 0, times_opened: 0, current_state: 'Closed' });
  });

  it('aborted half-open probes: each recorded once as a failed probe, no slot leaked', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const clock = new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(clock, 0, 1000);
    const config: CircuitBreakerConfig = { failureThreshold: 1, timeoutMs: 50, successThreshold: n };
    const breaker = registry.circuitBreaker('probe', config, { clock: () => Atomics.load(clock, 0) });
    breaker.forceOpen();
    Atomics.store(clock, 0, 1050);
    const sync = new SharedArrayBuffer(4);
    const { results } = await run<{ outcome: string }>(registry, backends, { mode: 'probe-abort', name: 'probe', clock: clock.buffer, sync, parties: n });
    expect((await results).map((r) => r.outcome)).toEqual(backends.map(() => 'aborted'));
    // The first recorded abort reopened it; the others were recorded while Open.
    expect(breaker.metrics()).toMatchObject({ total_calls: n, failure_count: n, times_opened: 2, current_state: 'Open' });
    // Every slot is free again: after the timeout, a full set of probes is admitted.
    Atomics.store(clock, 0, 1100);
    for (let i = 0; i < n; i++) expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('hostile results: every call recorded exactly once', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const breaker = registry.circuitBreaker('hostile', { failureThreshold: 100 });
    const rounds = 5;
    const { results } = await run<{ counts: Record<string, number> }>(registry, backends, { mode: 'hostile', name: 'hostile', rounds, timeoutMs: 10 });
    // Per round: 4 successes, 10 failures, 1 timeout (see HOSTILE in the worker).
    for (const r of await results) expect(r.counts).toEqual({ success: 4 * rounds, failure: 10 * rounds, timeout: rounds, pending: 0 });
    expect(breaker.metrics()).toMatchObject({ total_calls: n * 15 * rounds, success_count: n * 4 * rounds, failure_count: n * 11 * rounds, rejected_calls: 0 });
  });

  it('opening by name from a worker: the creator’s config; new ones get the defaults', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const config = { failureThreshold: 7, timeoutMs: 777, successThreshold: 3, callTimeoutMs: 70 };
    const main = registry.circuitBreaker('db', config);
    const { results } = await run<{ config: unknown; madeConfig: unknown; seen: string[] }>(registry, backends, { mode: 'by-name', name: 'db' });
    const got = await results;
    for (const r of got) {
      expect(r.config).toEqual(CircuitBreakerConfig.defaults(config));
      expect(r.madeConfig).toEqual(CircuitBreakerConfig.defaults());
      expect(r.seen).toContain('db');
    }
    expect(main.metrics().failure_count).toBe(n);
    const names = registry.circuitBreakers().map((b) => b.name);
    expect(names).toEqual(['db', ...backends.map((_, i) => `made-by-${i}`)].sort());
    expect(registry.circuitBreakerMetrics().total_calls).toBe(2 * n);
  });

  it('workers terminated while calls are pending: exactly the completed calls are recorded, the breaker stays usable', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const breaker = registry.circuitBreaker('die', { failureThreshold: 1 });
    const calls = 25;
    const { workers, results } = await run<{ hanging: boolean }>(registry, backends, { mode: 'hang-then-die', name: 'die', calls, hung: 5 });
    expect((await results).every((r) => r.hanging)).toBe(true);
    await Promise.all(workers.map((w) => w.terminate()));
    expect(breaker.metrics()).toMatchObject({ total_calls: n * calls, success_count: n * calls, failure_count: 0, current_state: 'Closed' });
    await expect(breaker.call(async () => 'still works')).resolves.toBe('still works');
  });
});
