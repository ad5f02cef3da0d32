// One bus per worker thread on a shared stats name, all publishing at once: exact totals.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers } from './helpers/workers.js';

const THREADS = 4;
const N = 100_000;

describe.each(BACKENDS)('event bus from %s threads', (backend) => {
  const CAPACITY = 1000;
  it.each([
    { handlers: false, receivers: false },
    { handlers: true, receivers: false },
    { handlers: false, receivers: true },
    { handlers: true, receivers: true },
  ])('4 buses on one name x 100,000 publishes, %o: exact totals and the dispatch invariant', async ({ handlers, receivers }) => {
    const registry = StatsRegistry.create({ backend });
    const results = await runWorkers<{ seen: number; asyncResults: number; buffered: number }>('bus-stress.mjs', THREADS, () => ({
      handle: registry.handle,
      backend,
      name: 'bus',
      n: N,
      handlers,
      receivers,
      capacity: CAPACITY,
    }));
    const total = THREADS * N;
    for (const r of results) {
      expect(r.asyncResults).toBe(0);
      expect(r.seen).toBe(handlers ? N : 0);
      expect(r.buffered).toBe(receivers ? CAPACITY : 0);
    }
    const s = registry.eventBusStats('bus').snapshot();
    expect(s).toEqual({
      total_events_dispatched: total,
      rust_handler_dispatches: handlers ? total : 0,
      rust_handler_errors: handlers ? THREADS * (N / 10) : 0,
      ffi_channel_dispatches: receivers ? total : 0,
      ffi_channel_drops: receivers ? 0 : total,
      ffi_channel_lagged: receivers ? THREADS * (N - CAPACITY) : 0,
      rust_handler_shed: 0,
      rust_subscriber_patterns: 0,
      rust_handler_count: 0,
      ffi_subscriber_count: 0,
    });
    expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);
  });
});

describe.each(BACKENDS)('event bus threads killed mid-publish (%s)', (backend) => {
  it('4 threads killed while publishing lose nothing and count nothing twice; their stripes are taken over exactly', async () => {
    // 8 stripes: this thread holds stripe 0 and the 4 publishers 1-4. Stripes are handed
    // out lowest first, so the 4 threads of the second round take over exactly the
    // stripes the killed ones left.
    const registry = StatsRegistry.create({ backend, stripes: 8 });
    const stats = registry.eventBusStats('churn');
    const done = new Int32Array(new SharedArrayBuffer(4 * THREADS));
    const start = new Int32Array(new SharedArrayBuffer(4));
    const killed: Worker[] = [];
    for (let index = 0; index < THREADS; index++) {
      killed.push(new Worker(new URL('./workers/bus-churn.mjs', import.meta.url), { workerData: { handle: registry.handle, backend, done, index, start } }));
    }
    await Promise.all(killed.map((w) => new Promise((resolve) => w.once('message', resolve))));
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    // Let each one publish long enough to be in its optimized loop, then kill them mid-loop.
    const deadline = Date.now() + 30_000;
    while ([...done].some((d) => d < 50_000) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await Promise.all(killed.map((w) => w.terminate()));
    const reported = [...done].reduce((a, b) => a + b, 0);
    expect(Math.min(...done)).toBeGreaterThanOrEqual(50_000);
    const afterKill = stats.snapshotBigInt();
    const counted = Number(afterKill.total_events_dispatched);
    // Each thread may have been killed after a publish and before reporting it: at most one
    // unreported publish per thread, and never a publish counted without having happened.
    expect(counted).toBeGreaterThanOrEqual(reported);
    expect(counted).toBeLessThanOrEqual(reported + THREADS);
    // Every publish had a handler and a receiver that took it, and none failed or lagged.
    expect(afterKill).toMatchObject({
      rust_handler_dispatches: BigInt(counted),
      ffi_channel_dispatches: BigInt(counted),
      ffi_channel_drops: 0n,
      rust_handler_errors: 0n,
      ffi_channel_lagged: 0n,
    });
    // The killed threads' stripes were handed back (this thread created them); the next
    // threads take them over and count on top of what the killed ones left, exactly.
    const M = 70_000;
    const round2 = await runWorkers<{ slot: number; seen: number; received: number }>('bus-churn.mjs', THREADS, () => ({ handle: registry.handle, backend, n: M }));
    expect(round2.map((r) => r.slot).sort()).toEqual([1, 2, 3, 4]);
    for (const r of round2) expect([r.seen, r.received]).toEqual([M, M]);
    const total = BigInt(counted + THREADS * M);
    expect(stats.snapshotBigInt()).toMatchObject({
      total_events_dispatched: total,
      rust_handler_dispatches: total,
      ffi_channel_dispatches: total,
      ffi_channel_drops: 0n,
      rust_handler_errors: 0n,
    });
  });
});
