/*
 * The failure-rate window filled by several real worker threads at once, on wasm, js and
 * mixed backends. Time comes from a fake clock in a SharedArrayBuffer that stays still, so
 * every record lands in one slice and the totals are exact; workers record without asking
 * for permits so that every call of the pattern is counted.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry, type CircuitBreakerConfig } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';
import { runWorkers } from './helpers/workers.js';

const REPEAT = 2500;
const WORKER = new URL('./workers/breaker-policy-worker.mjs', import.meta.url);
const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

function clock(ms: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(4);
  new Int32Array(sab)[0] = ms;
  return sab;
}

async function fill(backends: BackendKind[], name: string, config: CircuitBreakerConfig, pattern: string) {
  const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
  const sab = clock(50_000);
  registry.circuitBreaker(name, config);
  await runWorkers('breaker-policy-worker.mjs', backends.length, (i) => ({
    handle: registry.handle,
    backend: backends[i],
    clock: sab,
    mode: 'pattern',
    name,
    config,
    pattern,
    repeat: REPEAT,
  }));
  return registry.circuitBreaker(name, config, { clock: () => 50_000 }).metricsBigInt();
}

const SETUPS: [string, BackendKind[]][] = [
  ['2 threads, wasm', ['wasm', 'wasm']],
  ['2 threads, js', ['js', 'js']],
  ['4 threads, wasm', ['wasm', 'wasm', 'wasm', 'wasm']],
  ['4 threads, js', ['js', 'js', 'js', 'js']],
  ['4 threads, wasm and js mixed', ['wasm', 'js', 'wasm', 'js']],
];

describe.each(SETUPS)('rate window filled by %s', (_label, backends) => {
  const calls = BigInt(backends.length * REPEAT * 4);

  it('50% failures open it, exactly once, when minimumCalls is the last call', async () => {
    // 'FSFS': every thread's prefix is at least half failures; the breaker can only open
    // once all calls are in, and then must (the last evaluation sees every call).
    const config = { failureThreshold: 100, failureRateThreshold: 0.5, minimumCalls: Number(calls), windowMs: 60_000 };
    const m = await fill(backends, 'half', config, 'FSFS');
    expect(m).toMatchObject({ current_state: 'Open', times_opened: 1n, total_calls: calls, failure_count: calls / 2n, window_calls: calls, window_failures: calls / 2n });
  });

  it('50% failures with a small minimumCalls open it exactly once', async () => {
    const config = { failureThreshold: 100, failureRateThreshold: 0.5, minimumCalls: 10, windowMs: 60_000 };
    const m = await fill(backends, 'half-early', config, 'FSFS');
    expect(m).toMatchObject({ current_state: 'Open', times_opened: 1n, total_calls: calls, failure_count: calls / 2n, success_count: calls / 2n });
  });

  it('25% failures never reach a threshold of 0.26, even with minimumCalls 1', async () => {
    // 'SSSF': no thread's prefix is above a quarter failures, and a reader counts failures
    // before calls, so no evaluation can see more than 25%.
    const config = { failureThreshold: 100, failureRateThreshold: 0.26, minimumCalls: 1, windowMs: 60_000 };
    const m = await fill(backends, 'quarter', config, 'SSSF');
    expect(m).toMatchObject({ current_state: 'Closed', times_opened: 0n, total_calls: calls, failure_count: calls / 4n, window_calls: calls, window_failures: calls / 4n });
  });
});

describe.each<[string, BackendKind[]]>([
  ['wasm', ['wasm', 'wasm', 'wasm']],
  ['js', ['js', 'js', 'js']],
  ['mixed', ['wasm', 'js', 'wasm']],
])('workers (%s) terminated while they record into the window', (_label, backends) => {
  it('leave no slice half-written: the window stays exact and keeps working', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 4 << 20 });
    const sab = clock(80_000);
    const config = { failureThreshold: 100, failureRateThreshold: 1, minimumCalls: 1_000_000, windowMs: 60_000 };
    const main = registry.circuitBreaker('busy', config, { clock: () => 80_000 });
    const workers = backends.map((backend) => {
      const w = new Worker(WORKER, { workerData: { handle: registry.handle, backend, clock: sab, mode: 'forever', name: 'busy', config, pattern: 'SF' } });
      live.push(w);
      return w;
    });
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
    await Promise.all(workers.map((w) => w.terminate()));
    const before = main.metricsBigInt();
    // Each record goes to the window before the counters: a worker stopped between the two
    // leaves the window at most one call (and one failure) ahead of the totals.
    const dead = BigInt(backends.length);
    expect(before.window_calls - before.total_calls).toBeGreaterThanOrEqual(0n);
    expect(before.window_calls - before.total_calls).toBeLessThanOrEqual(dead);
    expect(before.window_failures - before.failure_count).toBeGreaterThanOrEqual(0n);
    expect(before.window_failures - before.failure_count).toBeLessThanOrEqual(dead);
    expect(before.total_calls).toBeGreaterThan(1000n);
    for (let i = 0; i < 75; i++) {
      main.recordFailure(1);
      main.recordSuccess(1);
    }
    const after = main.metricsBigInt();
    expect(after.window_calls - before.window_calls).toBe(150n);
    expect(after.window_failures - before.window_failures).toBe(75n);
    expect(after.total_calls - before.total_calls).toBe(150n);
    expect(after.current_state).toBe('Closed');
  });
});
