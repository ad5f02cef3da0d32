/*
 * The bulkhead's invariants with real worker threads, on every backend: maxConcurrent is
 * never exceeded (the peak is measured inside the work itself, with a shared counter) and
 * the totals are exact; a release in one thread wakes the oldest waiter of another, first
 * in, first out; a thread terminated while it holds permits, or while it waits in the
 * queue, does not keep them past a lease.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { runWorkers, startWorkers } from './helpers/workers.js';

const live: Worker[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((w) => w.terminate()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(2);
  }
}

const THREADS = 4;

describe.each(BACKENDS)('bulkhead across %d threads, %s backend'.replace('%d', String(THREADS)), (backend) => {
  it('call(): maxConcurrent is never exceeded inside the work, and every call is admitted exactly once', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 4 << 20 });
    const config = { maxConcurrent: 3, maxQueued: 64 };
    const bulkhead = registry.bulkhead('payments', config);
    const probe = new SharedArrayBuffer(8);
    const count = 4000;
    const outstanding = 8; // 32 calls at a time for 3 permits: the queue is always busy
    const results = await runWorkers<{ done: number; failed: number }>('bulkhead-worker.mjs', THREADS, () => ({
      mode: 'calls',
      handle: registry.handle,
      backend,
      name: 'payments',
      config,
      probe,
      count,
      outstanding,
    }));
    const p = new Int32Array(probe);
    expect(results).toEqual(Array.from({ length: THREADS }, () => ({ done: count, failed: 0 })));
    expect(p[1]).toBe(config.maxConcurrent); // reached, and never passed
    expect(p[0]).toBe(0);
    const m = bulkhead.metricsBigInt();
    expect(m).toMatchObject({ active: 0n, queued: 0n, admitted: BigInt(THREADS * count), rejected: 0n, queue_timeouts: 0n, reclaimed: 0n, late_releases: 0n });
    expect(m.enqueued).toBeGreaterThan(0n);
  });

  it('tryAcquire()/release(): never more than maxConcurrent holders, exact totals (4 x 100k)', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 4 << 20 });
    const config = { maxConcurrent: 2 };
    const bulkhead = registry.bulkhead('guard', config);
    const probe = new SharedArrayBuffer(8);
    const count = 100_000;
    const results = await runWorkers<{ admitted: number; refused: number }>('bulkhead-worker.mjs', THREADS, () => ({
      mode: 'guard',
      handle: registry.handle,
      backend,
      name: 'guard',
      config,
      probe,
      count,
    }));
    const p = new Int32Array(probe);
    expect(p[1]).toBeLessThanOrEqual(config.maxConcurrent);
    expect(p[1]).toBeGreaterThanOrEqual(1);
    expect(p[0]).toBe(0);
    const admitted = results.reduce((a, r) => a + r.admitted, 0);
    const refused = results.reduce((a, r) => a + r.refused, 0);
    expect(admitted + refused).toBe(THREADS * count);
    expect(bulkhead.metricsBigInt()).toMatchObject({ active: 0n, admitted: BigInt(admitted), rejected: BigInt(refused) });
  });

  it('a release in the main thread wakes the oldest waiter of any thread, in arrival order', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { maxConcurrent: 1, maxQueued: 8 };
    const bulkhead = registry.bulkhead('fifo', config);
    expect(bulkhead.tryAcquire()).toBe(true);
    const order = new SharedArrayBuffer(4 * 8);
    const n = 4;
    const started = startWorkers<{ ok: boolean }>(
      'bulkhead-worker.mjs',
      Array.from({ length: n }, (_, index) => ({ mode: 'wait', handle: registry.handle, backend, name: 'fifo', config, index, order, holdMs: 5 })),
    );
    live.push(...started.workers);
    await until(() => bulkhead.metrics().queued === n, 'every worker queued');
    expect(bulkhead.metrics().queued).toBe(n);
    const mine = bulkhead.call(async () => {
      const o = new Int32Array(order);
      o[Atomics.add(o, 0, 1) + 1] = 100;
    });
    expect(bulkhead.metrics().queued).toBe(n + 1);
    bulkhead.release();
    await mine;
    await started.results;
    const o = Array.from(new Int32Array(order));
    expect(o[0]).toBe(n + 1);
    // Everyone ran once, the main thread's call (queued last) last.
    expect(o.slice(1, n + 1).sort()).toEqual([1, 2, 3, 4]);
    expect(o[n + 1]).toBe(100);
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, admitted: n + 2, enqueued: n + 1 });
  });

  it('threads queued one by one are admitted in that order', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { maxConcurrent: 1, maxQueued: 8 };
    const bulkhead = registry.bulkhead('fifo', config);
    expect(bulkhead.tryAcquire()).toBe(true);
    const order = new SharedArrayBuffer(4 * 8);
    const n = 3;
    const waiting: Promise<unknown>[] = [];
    for (let index = 0; index < n; index++) {
      const started = startWorkers<{ ok: boolean }>('bulkhead-worker.mjs', [{ mode: 'wait', handle: registry.handle, backend, name: 'fifo', config, index, order, holdMs: 2 }]);
      live.push(...started.workers);
      waiting.push(started.results);
      await until(() => bulkhead.metrics().queued === index + 1, `worker ${index} queued`);
    }
    bulkhead.release();
    await Promise.all(waiting);
    expect(Array.from(new Int32Array(order)).slice(0, n + 1)).toEqual([n, 1, 2, 3]);
  });

  it('a thread terminated while it holds permits gives them back within the lease', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { maxConcurrent: 2, maxQueued: 4, leaseMs: 100 };
    const bulkhead = registry.bulkhead('leased', config);
    const holder = startWorkers<{ held: number }>('bulkhead-worker.mjs', [{ mode: 'hold', handle: registry.handle, backend, name: 'leased', config, index: 0, permits: 2 }], true);
    live.push(...holder.workers);
    await until(() => bulkhead.metrics().active === 2, 'the holder took both permits');
    await holder.workers[0]!.terminate();
    expect(bulkhead.metrics()).toMatchObject({ active: 2, admitted: 2 });
    const results = await Promise.all([bulkhead.call(async () => 'a'), bulkhead.call(async () => 'b')]);
    expect(results).toEqual(['a', 'b']);
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, reclaimed: 2, admitted: 4 });
  });

  it('a thread terminated while it waits in the queue does not block the queue behind it past a lease', async () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { maxConcurrent: 1, maxQueued: 4, leaseMs: 100 };
    const bulkhead = registry.bulkhead('leased', config);
    expect(bulkhead.tryAcquire()).toBe(true);
    const waiter = startWorkers('bulkhead-worker.mjs', [{ mode: 'wait-forever', handle: registry.handle, backend, name: 'leased', config, index: 0 }], true);
    live.push(...waiter.workers);
    await until(() => bulkhead.metrics().queued === 1, 'the worker queued');
    await waiter.workers[0]!.terminate();
    const mine = bulkhead.call(async () => 'mine'); // behind the dead waiter
    bulkhead.release(); // hands the permit to the dead waiter: it comes back after a lease
    await expect(mine).resolves.toBe('mine');
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, reclaimed: 1 });
  });
});
