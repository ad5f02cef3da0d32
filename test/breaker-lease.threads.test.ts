/*
 * The probe lease with real worker threads: a worker terminated while it holds the only
 * probe does not wedge the breaker, and an expired lease noticed by several threads at
 * once reopens it exactly once. wasm, js and mixed backends.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';
import { runWorkers } from './helpers/workers.js';

const WORKER = new URL('./workers/breaker-policy-worker.mjs', import.meta.url);
const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

function sharedClock(start: number) {
  const sab = new SharedArrayBuffer(4);
  const i32 = new Int32Array(sab);
  Atomics.store(i32, 0, start);
  return { sab, read: () => Atomics.load(i32, 0), advance: (ms: number) => Atomics.add(i32, 0, ms) };
}

/** Starts a 'hold' worker and resolves with the permit it took, once it is spinning. */
function holdProbe(data: Record<string, unknown>): Promise<{ worker: Worker; permit: number }> {
  const worker = new Worker(WORKER, { workerData: { ...data, mode: 'hold' } });
  live.push(worker);
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { permit: number }) => resolve({ worker, permit: m.permit }));
    worker.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each<[BackendKind, BackendKind]>([
  ['wasm', 'wasm'],
  ['js', 'js'],
  ['wasm', 'js'],
  ['js', 'wasm'],
])('a worker (%s) terminated while it holds the only probe; main thread %s', (workerBackend, mainBackend) => {
  it('shared fake clock: new probes are admitted probeLeaseMs + timeoutMs (+ a tick each) later', async () => {
    const registry = StatsRegistry.create({ backend: mainBackend, capacityBytes: 1 << 20 });
    const clock = sharedClock(10_000);
    const config = { failureThreshold: 1, timeoutMs: 200, successThreshold: 1, probeLeaseMs: 300 };
    const b = registry.circuitBreaker('db', config, { clock: clock.read });
    b.recordFailure(1);
    clock.advance(200);
    const { worker, permit } = await holdProbe({ handle: registry.handle, backend: workerBackend, clock: clock.sab, name: 'db', config });
    expect(permit).toBeGreaterThan(1);
    await worker.terminate();
    expect(b.state).toBe('HalfOpen');
    expect(b.tryAcquire()).toBe(false); // the probe slot is still held
    clock.advance(301); // the lease, and the tick its stamp is rounded up by
    expect(b.tryAcquire()).toBe(false); // reopened by this call
    expect(b.state).toBe('Open');
    clock.advance(201);
    const probe = b.acquirePermit();
    expect(probe).toBeGreaterThan(1);
    b.recordSuccess(1, permit); // the dead worker's permit, should it ever come back: no effect
    expect(b.state).toBe('HalfOpen');
    b.recordSuccess(1, probe);
    expect(b.metrics()).toMatchObject({ current_state: 'Closed', times_opened: 2, success_count: 2, failure_count: 1 });
  });

  it('real time: the breaker recovers by itself (checked within a generous bound)', async () => {
    const registry = StatsRegistry.create({ backend: mainBackend, capacityBytes: 1 << 20 });
    const config = { failureThreshold: 1, timeoutMs: 20, successThreshold: 1, probeLeaseMs: 50 };
    const b = registry.circuitBreaker('db', config);
    b.recordFailure(1);
    await sleep(25);
    const { worker } = await holdProbe({ handle: registry.handle, backend: workerBackend, realClock: true, name: 'db', config });
    await worker.terminate();
    let admitted = false;
    const deadline = Date.now() + 20_000;
    while (!admitted && Date.now() < deadline) {
      admitted = b.tryAcquire();
      if (!admitted) await sleep(5);
    }
    expect(admitted).toBe(true);
    b.recordSuccess(1);
    expect(b.metrics()).toMatchObject({ current_state: 'Closed', times_opened: 2 });
  });
});

describe.each<[string, BackendKind[]]>([
  ['4 threads, wasm', ['wasm', 'wasm', 'wasm', 'wasm']],
  ['4 threads, js', ['js', 'js', 'js', 'js']],
  ['4 threads, mixed', ['wasm', 'js', 'wasm', 'js']],
])('an expired lease noticed by %s at once', (_label, backends) => {
  it('reopens each breaker exactly once, and admits nobody (150 breakers)', async () => {
    const registry = StatsRegistry.create({ capacityBytes: 8 << 20 });
    const clock = sharedClock(100_000);
    const config = { failureThreshold: 1, timeoutMs: 10, successThreshold: 2, probeLeaseMs: 40 };
    const names = Array.from({ length: 150 }, (_, i) => `lease-${i}`);
    for (const name of names) {
      const b = registry.circuitBreaker(name, config, { clock: clock.read });
      b.forceOpen();
    }
    clock.advance(10);
    for (const name of names) {
      const b = registry.circuitBreaker(name, config, { clock: clock.read });
      expect(b.tryAcquire()).toBe(true); // two probes out, never recorded
      expect(b.tryAcquire()).toBe(true);
    }
    clock.advance(41);
    const attempts = 3;
    const sync = new SharedArrayBuffer(4);
    const results = await runWorkers<{ admitted: number }>('breaker-policy-worker.mjs', backends.length, (i) => ({
      handle: registry.handle,
      backend: backends[i],
      clock: clock.sab,
      mode: 'notice',
      names,
      config,
      attempts,
      parties: backends.length,
      sync,
    }));
    expect(results.map((r) => r.admitted)).toEqual(backends.map(() => 0));
    for (const name of names) {
      const m = registry.circuitBreaker(name, config, { clock: clock.read }).metricsBigInt();
      expect(m).toMatchObject({ current_state: 'Open', times_opened: 2n, rejected_calls: BigInt(backends.length * attempts) });
    }
  });
});
