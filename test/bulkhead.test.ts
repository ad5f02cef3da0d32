/*
 * The bulkhead in one thread, on every backend: the synchronous guard, call() with its
 * FIFO queue, queue timeouts and aborts that free a place at once, the lease that takes a
 * lost permit back, typed errors that change nothing, and the snapshot. The cross-thread
 * invariants are in bulkhead.threads.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BulkheadFullError, InvalidOptionsError, NameConflictError, StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock } from './helpers/breaker.js';
import { expectRejected } from './helpers/metrics.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A promise with its settle functions outside. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Waits (a few event-loop turns at most, bounded) until `cond()` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await sleep(1);
  }
  throw new Error(`never: ${what}`);
}

describe.each(BACKENDS)('bulkhead, %s backend', (backend) => {
  const make = (config: Record<string, unknown>, clock?: FakeClock) => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const bulkhead = registry.bulkhead('payments', config, clock ? { clock: clock.read } : undefined);
    return { registry, bulkhead };
  };

  it('tryAcquire admits maxConcurrent at once and refuses the next; release hands a permit back', () => {
    const { bulkhead } = make({ maxConcurrent: 3 });
    expect([bulkhead.tryAcquire(), bulkhead.tryAcquire(), bulkhead.tryAcquire()]).toEqual([true, true, true]);
    expect(bulkhead.tryAcquire()).toBe(false);
    expect(bulkhead.metrics()).toMatchObject({ active: 3, queued: 0, admitted: 3, rejected: 1 });
    bulkhead.release();
    expect(bulkhead.metrics().active).toBe(2);
    expect(bulkhead.tryAcquire()).toBe(true);
    for (let i = 0; i < 3; i++) bulkhead.release();
    expect(bulkhead.metrics()).toEqual({
      active: 0,
      queued: 0,
      admitted: 4,
      rejected: 1,
      queue_timeouts: 0,
      queue_aborts: 0,
      enqueued: 0,
      reclaimed: 0,
      late_releases: 0,
    });
    expect(bulkhead.metricsBigInt()).toMatchObject({ admitted: 4n, rejected: 1n });
  });

  it('a release() without a permit held is an InvalidOptionsError and changes nothing', () => {
    const { registry, bulkhead } = make({ maxConcurrent: 2 });
    expectRejected(registry, () => bulkhead.release(), InvalidOptionsError);
    expect(bulkhead.tryAcquire()).toBe(true);
    bulkhead.release();
    expectRejected(registry, () => bulkhead.release(), InvalidOptionsError);
  });

  it('rejects a bad config with a typed error and creates nothing', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const bad: unknown[] = [
      {},
      { maxConcurrent: 0 },
      { maxConcurrent: 1.5 },
      { maxConcurrent: 10_001 },
      { maxConcurrent: '3' },
      { maxConcurrent: 2, maxQueued: -1 },
      { maxConcurrent: 2, maxQueued: 10_001 },
      { maxConcurrent: 2, maxQueued: 4, queueTimeoutMs: 0 },
      { maxConcurrent: 2, maxQueued: 4, queueTimeoutMs: Infinity },
      { maxConcurrent: 2, queueTimeoutMs: 100 }, // a timeout needs a queue
      { maxConcurrent: 2, leaseMs: 0 },
      { maxConcurrent: 2, extra: 1 },
      null,
      7,
    ];
    for (const config of bad) expectRejected(registry, () => registry.bulkhead('b', config as never), InvalidOptionsError);
    expectRejected(registry, () => registry.bulkhead('b', { maxConcurrent: 1 }, { clock: 5 as never }), InvalidOptionsError);
    expectRejected(registry, () => registry.bulkhead('b'), InvalidOptionsError); // none yet, no config
    registry.bulkhead('b', { maxConcurrent: 2 });
    expectRejected(registry, () => registry.bulkhead('b', { maxConcurrent: 3 }), NameConflictError);
    registry.counter({ name: 'c_total', help: 'A counter.' });
    expectRejected(registry, () => registry.bulkhead('c_total', { maxConcurrent: 3 }), NameConflictError);
    // Opened again, with or without its config: the same record.
    expect(registry.bulkhead('b').config).toEqual({ maxConcurrent: 2, maxQueued: 0, queueTimeoutMs: null, leaseMs: 60_000 });
    expect(registry.bulkhead('b', { maxConcurrent: 2 }).tryAcquire()).toBe(true);
    expect(registry.bulkhead('b').metrics().active).toBe(1);
  });

  it('call() runs fn under a permit with a signal, passes its result and its error, and releases the permit', async () => {
    const { bulkhead } = make({ maxConcurrent: 1 });
    let seen: unknown;
    await expect(
      bulkhead.call(({ signal }) => {
        seen = signal;
        return bulkhead.metrics().active;
      }),
    ).resolves.toBe(1);
    expect(seen).toBeInstanceOf(AbortSignal);
    await expect(bulkhead.call(async () => 'x')).resolves.toBe('x');
    await expect(bulkhead.call(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(
      bulkhead.call(() => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    await expect(bulkhead.call(async () => 'y', {})).resolves.toBe('y');
    expect(bulkhead.metrics()).toMatchObject({ active: 0, admitted: 5, rejected: 0 });
  });

  it('call() with bad arguments rejects with InvalidOptionsError and changes nothing', async () => {
    const { registry, bulkhead } = make({ maxConcurrent: 1, maxQueued: 2 });
    const before = JSON.stringify(registry.collect(), (_, v) => (typeof v === 'bigint' ? `${v}` : v));
    await expect(bulkhead.call(5 as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(bulkhead.call(async () => 1, { signal: 'no' as never })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(bulkhead.call(async () => 1, { timeout: 5 } as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(bulkhead.call(async () => 1, 3 as never)).rejects.toBeInstanceOf(InvalidOptionsError);
    expect(JSON.stringify(registry.collect(), (_, v) => (typeof v === 'bigint' ? `${v}` : v))).toBe(before);
  });

  it('a full bulkhead queues calls and admits them first in, first out; a full queue refuses with ERR_BULKHEAD_FULL', async () => {
    const { bulkhead } = make({ maxConcurrent: 2, maxQueued: 3 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const calls = gates.map((g, i) =>
      bulkhead.call(() => {
        started.push(i);
        return g.promise.then(() => i);
      }),
    );
    expect(started).toEqual([0, 1]);
    expect(bulkhead.metrics()).toMatchObject({ active: 2, queued: 3, enqueued: 3 });
    const refused = bulkhead.call(async () => 'never');
    await expect(refused).rejects.toBeInstanceOf(BulkheadFullError);
    await expect(refused).rejects.toMatchObject({ code: 'ERR_BULKHEAD_FULL', reason: 'full', bulkheadName: 'payments' });
    expect(bulkhead.tryAcquire()).toBe(false); // no barging past the queue
    gates[1]!.resolve();
    await until(() => started.length === 3, 'the first waiter starts');
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    await until(() => started.length === 4, 'the second waiter starts');
    gates[2]!.resolve();
    await until(() => started.length === 5, 'the third waiter starts');
    expect(started).toEqual([0, 1, 2, 3, 4]);
    gates[3]!.resolve();
    gates[4]!.resolve();
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4]);
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, admitted: 5, rejected: 2, enqueued: 3, queue_timeouts: 0 });
  });

  it('a queue timeout rejects with reason timeout and frees the place at once', async () => {
    const { bulkhead } = make({ maxConcurrent: 1, maxQueued: 1, queueTimeoutMs: 30 });
    const gate = deferred();
    const holder = bulkhead.call(() => gate.promise);
    const waiter = bulkhead.call(async () => 'late');
    expect(bulkhead.metrics().queued).toBe(1);
    await expect(waiter).rejects.toMatchObject({ code: 'ERR_BULKHEAD_FULL', reason: 'timeout' });
    // The place is free the moment the rejection is seen: another call can take it.
    expect(bulkhead.metrics()).toMatchObject({ queued: 0, queue_timeouts: 1, active: 1 });
    const next = bulkhead.call(async () => 'next');
    expect(bulkhead.metrics().queued).toBe(1);
    gate.resolve();
    await holder;
    await expect(next).resolves.toBe('next');
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, admitted: 2, rejected: 0, queue_timeouts: 1 });
  });

  it('an abort while queued rejects with the reason and frees the place at once; the queue behind it moves on', async () => {
    const { bulkhead } = make({ maxConcurrent: 1, maxQueued: 2 });
    const gate = deferred();
    const holder = bulkhead.call(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const aborted = bulkhead.call(
      () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    const behind = bulkhead.call(async () => 'behind');
    expect(bulkhead.metrics().queued).toBe(2);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(bulkhead.metrics()).toMatchObject({ queued: 1, queue_aborts: 1 }); // synchronously
    await expect(aborted).rejects.toBe(reason);
    const third = bulkhead.call(async () => 'third'); // the freed place
    expect(bulkhead.metrics().queued).toBe(2);
    gate.resolve();
    await holder;
    expect(await Promise.all([behind, third])).toEqual(['behind', 'third']);
    expect(ran).toBe(false);
    expect(bulkhead.metrics()).toMatchObject({ active: 0, queued: 0, admitted: 3, queue_aborts: 1 });
  });

  it('an already-aborted signal takes nothing; an abort while running rejects at once but keeps the permit until fn settles', async () => {
    const { bulkhead } = make({ maxConcurrent: 1, maxQueued: 1 });
    const reason = new Error('before');
    await expect(bulkhead.call(async () => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(bulkhead.metrics()).toMatchObject({ admitted: 0, rejected: 0, active: 0 });
    const controller = new AbortController();
    const gate = deferred();
    let inner: AbortSignal | undefined;
    const running = bulkhead.call(
      ({ signal }) => {
        inner = signal;
        return gate.promise;
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('during'));
    await expect(running).rejects.toThrow('during');
    expect(inner!.aborted).toBe(true);
    expect(bulkhead.metrics().active).toBe(1); // fn has not settled yet
    expect(bulkhead.tryAcquire()).toBe(false);
    gate.resolve();
    await until(() => bulkhead.metrics().active === 0, 'the permit comes back when fn settles');
  });

  it('a permit never released comes back after its lease (fake clock), and its late release changes nothing', () => {
    const clock = new FakeClock();
    const { bulkhead } = make({ maxConcurrent: 1, leaseMs: 500 }, clock);
    expect(bulkhead.tryAcquire()).toBe(true); // the holder that will be "gone"
    expect(bulkhead.tryAcquire()).toBe(false); // notes the holding
    clock.advance(499);
    expect(bulkhead.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(bulkhead.tryAcquire()).toBe(true); // taken back and handed to this call
    expect(bulkhead.metrics()).toMatchObject({ active: 1, reclaimed: 1, admitted: 2, rejected: 2 });
    bulkhead.release(); // this call's permit
    bulkhead.release(); // the first holding's: taken back already
    expect(bulkhead.metrics()).toMatchObject({ active: 0, reclaimed: 1, late_releases: 1 });
    expect(bulkhead.tryAcquire()).toBe(true);
    bulkhead.release();
  });

  it('a waiting call gets a lost permit after its lease (real time)', async () => {
    const { bulkhead } = make({ maxConcurrent: 1, maxQueued: 1, leaseMs: 40 });
    expect(bulkhead.tryAcquire()).toBe(true); // never released
    await expect(bulkhead.call(async () => 'admitted')).resolves.toBe('admitted');
    expect(bulkhead.metrics()).toMatchObject({ reclaimed: 1, active: 0, queued: 0 });
  });

  it('registry.bulkheads() lists every bulkhead with its config', () => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    registry.bulkhead('b', { maxConcurrent: 2 });
    registry.bulkhead('a', { maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 100 });
    registry.counter({ name: 'other_total', help: 'Not a bulkhead.' });
    expect(registry.bulkheads().map((b) => [b.name, b.config.maxConcurrent, b.config.maxQueued])).toEqual([
      ['a', 1, 5],
      ['b', 2, 0],
    ]);
  });
});
