// maxPendingDispatches: a bus never holds more than that many publishes awaiting handlers;
// at the bound it sheds, counting every publish once and every handler left out as shed
// and as an error. Plus the dispatch timer: one per bus, unref'd, gone once nothing waits.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InProcessEventBus, InvalidOptionsError, StatsRegistry } from '../src/index.js';
import { recordingLogger, testEvent } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';
import { runProcess } from './helpers/processes.js';

function gate() {
  let open!: () => void;
  let fail!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

describe.each(BACKENDS)('maxPendingDispatches (%s backend)', (backend) => {
  const newBus = (extra: Record<string, unknown> = {}) => {
    const logger = recordingLogger();
    const bus = new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus', logger, ...extra });
    return { bus, logger };
  };

  it('defaults to 10,000 and is validated (integer 1..1,048,576), changing nothing when refused', () => {
    const registry = StatsRegistry.create({ backend });
    expect(new InProcessEventBus({ registry, name: 'ok', logger: recordingLogger() }).maxPendingDispatches).toBe(10_000);
    for (const bad of [0, -1, 1.5, 2 ** 20 + 1, '10', Number.NaN, Infinity, null]) {
      const before = registry.entries();
      expect(() => new InProcessEventBus({ registry, name: 'bad', maxPendingDispatches: bad as number })).toThrow(InvalidOptionsError);
      expect(registry.entries()).toEqual(before);
    }
    const b = InProcessEventBus.builder(registry, 'built').maxPendingDispatches(7).logger(recordingLogger()).build();
    expect(b.maxPendingDispatches).toBe(7);
  });

  it('exact counts at the bound: the first N publishes wait, the rest shed the async handler and complete at once', async () => {
    const { bus, logger } = newBus({ maxPendingDispatches: 3 });
    const g = gate();
    let asyncCalls = 0;
    let syncCalls = 0;
    bus.subscribe('o.*', () => {
      asyncCalls++;
      return g.promise;
    });
    bus.subscribe('o.*', () => void syncCalls++);
    const rx = bus.subscribeBroadcast();
    const results = [];
    for (let i = 0; i < 10; i++) results.push(bus.publish(testEvent('o.x')));
    expect(results.map((r) => r instanceof Promise)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect([asyncCalls, syncCalls, bus.pendingDispatches]).toEqual([3, 10, 3]);
    expect(rx.size).toBe(7); // shed publishes are delivered at once; waiting ones when they finish
    // ...and counted then: the 3 waiting ones are not counted yet.
    expect(bus.getStatistics()).toMatchObject({
      total_events_dispatched: 7,
      rust_handler_dispatches: 7,
      rust_handler_errors: 7,
      rust_handler_shed: 7,
      ffi_channel_dispatches: 7,
      ffi_channel_drops: 0,
    });
    expect(logger.calls.filter((c) => c.details.reason === 'shed')).toHaveLength(7);

    g.open();
    await Promise.all(results);
    expect(bus.pendingDispatches).toBe(0);
    expect(rx.size).toBe(10);
    const s = bus.getStatistics();
    expect(s).toMatchObject({
      total_events_dispatched: 10,
      rust_handler_dispatches: 10,
      rust_handler_errors: 7,
      rust_handler_shed: 7,
      ffi_channel_dispatches: 10,
    });
    expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);

    // Below the bound again: the async handler is called and awaited as before.
    const r = bus.publish(testEvent('o.x'));
    expect(r).toBeInstanceOf(Promise);
    await r;
    expect([asyncCalls, bus.getStatistics().rust_handler_shed]).toEqual([4, 7]);
  });

  it('a handler first seen at the bound runs once, is not awaited, its rejection is observed, and is shed from then on', async () => {
    const { bus } = newBus({ maxPendingDispatches: 1 });
    const hang = gate();
    bus.subscribe('a', () => hang.promise);
    const first = bus.publish(testEvent('a'));
    expect(bus.pendingDispatches).toBe(1);
    let lateCalls = 0;
    bus.subscribe('a', () => {
      lateCalls++;
      return Promise.reject(new Error('rejects, not awaited'));
    });
    for (let i = 0; i < 5; i++) expect(bus.publish(testEvent('a'))).toBeUndefined();
    expect(lateCalls).toBe(1);
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 5, rust_handler_dispatches: 5, rust_handler_errors: 10, rust_handler_shed: 10 });
    await new Promise((r) => setTimeout(r, 0)); // an unhandled rejection would fail this test file
    hang.open();
    await first;
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 6, rust_handler_dispatches: 6, rust_handler_errors: 10, rust_handler_shed: 10 });
  });

  it('a synchronous failure at the bound is an error, not a shed; logSubscriberErrors: false aggregates with the shed count', () => {
    const { bus, logger } = newBus({ maxPendingDispatches: 1, logSubscriberErrors: false });
    bus.subscribe('a', () => new Promise(() => {}));
    bus.publish(testEvent('a'));
    bus.subscribe('a', () => {
      throw new Error('sync');
    });
    bus.publish(testEvent('a'));
    expect(bus.getStatistics()).toMatchObject({ rust_handler_dispatches: 1, rust_handler_errors: 2, rust_handler_shed: 1 });
    expect(logger.calls).toHaveLength(1);
    expect(logger.calls[0]!.details).toMatchObject({ error_count: 2, shed_count: 1 });
  });

  it('recordStats: false sheds without recording', () => {
    const { bus } = newBus({ maxPendingDispatches: 1, recordStats: false });
    bus.subscribe('a', () => new Promise(() => {}));
    bus.publish(testEvent('a'));
    expect(bus.publish(testEvent('a'))).toBeUndefined();
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 0, rust_handler_shed: 0 });
  });

  it('a publish whose handlers time out frees its slot', async () => {
    const { bus } = newBus({ maxPendingDispatches: 1, dispatchTimeoutMs: 5 });
    bus.subscribe('a', () => new Promise(() => {}));
    const p = bus.publish(testEvent('a'));
    expect(bus.publish(testEvent('a'))).toBeUndefined();
    await p;
    expect(bus.pendingDispatches).toBe(0);
    expect(bus.publish(testEvent('a'))).toBeInstanceOf(Promise);
    // The third publish awaits its handler: counted when it completes.
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 2, rust_handler_errors: 2, rust_handler_shed: 1 });
  });
});

describe('dispatch timers', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('the timer of publishes awaiting handlers is unref\'d: it never keeps the process alive', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus', logger: recordingLogger(), dispatchTimeoutMs: 60_000 });
    bus.subscribe('a', () => new Promise(() => {}));
    bus.publish(testEvent('a'));
    // Armed in a microtask, never on the publish's own stack (src/bus/deadlines.ts).
    expect(spy).not.toHaveBeenCalled();
    await Promise.resolve();
    bus.publish(testEvent('a'));
    bus.publish(testEvent('a'));
    await Promise.resolve();
    // One timer for the bus, not one per publish.
    const timers = spy.mock.results.map((r) => r.value as NodeJS.Timeout);
    expect(timers).toHaveLength(1);
    expect(timers[0]!.hasRef()).toBe(false);
    expect(bus.pendingDispatches).toBe(3);
    clearTimeout(timers[0]);
  });

  it('one timer for the publishes awaiting handlers, re-armed for the next deadline, each publish timed out on time', async () => {
    // Deadlines are read on the monotonic clock (performance.now): fake it with the timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus', logger: recordingLogger(), logSubscriberErrors: false, maxReportsPerInterval: 0, dispatchTimeoutMs: 100 });
    bus.subscribe('a', () => new Promise(() => {}));
    const first = bus.publish(testEvent('a'));
    await vi.advanceTimersByTimeAsync(40);
    const second = bus.publish(testEvent('a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(59);
    expect(bus.pendingDispatches).toBe(2);
    await vi.advanceTimersByTimeAsync(1); // 100 ms after the first
    await first;
    expect(bus.pendingDispatches).toBe(1);
    // Re-armed for the second; and the failure opened the report window, with its own timer.
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(39);
    expect(bus.pendingDispatches).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // 100 ms after the second
    await second;
    expect(bus.pendingDispatches).toBe(0);
    expect(vi.getTimerCount()).toBe(1); // the report window's only
    bus.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 2, rust_handler_dispatches: 2, rust_handler_errors: 2 });
  });

  it('once every handler settled (fulfilled or rejected), the timer fires once more at most and then none is left', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bus', logger: recordingLogger(), logSubscriberErrors: false, maxReportsPerInterval: 0, dispatchTimeoutMs: 1000 });
    const g = gate();
    bus.subscribe('a', () => g.promise);
    const p = bus.publish(testEvent('a'));
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(1);
    g.open();
    await p;
    expect(bus.pendingDispatches).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(0);
    expect(bus.getStatistics()).toMatchObject({ rust_handler_dispatches: 1, rust_handler_errors: 0 });
    const h = gate();
    bus.subscribe('b', () => h.promise);
    const q = bus.publish(testEvent('b'));
    h.fail(new Error('x'));
    await q;
    await vi.advanceTimersByTimeAsync(1000);
    // The report window of the failure (the summary timer) is the only timer, and close() clears it.
    expect(vi.getTimerCount()).toBe(1);
    bus.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a handler that never settles, in a process with a 64 MB heap', () => {
  const child = fileURLToPath(new URL('./workers/backlog-child.mjs', import.meta.url));
  // Killed (SIGKILL, which the result shows) if it has not ended 60 s after it started.
  const run = (mode: string, ms: number, max: string) => runProcess(process.execPath, ['--max-old-space-size=64', child, mode, String(ms), max], { timeoutMs: 60_000 });

  it.each(['fresh', 'shared'])(
    '%s never-settling promises for 2 s: no out-of-memory, the process ends by itself, every completed publish counted once',
    async (mode) => {
      const r = await run(mode, 2000, 'default');
      expect(r.stderr).toBe('');
      expect([r.code, r.signal]).toEqual([0, null]);
      const out = JSON.parse(r.stdout);
      const N = out.published;
      const M = 10_000;
      expect(N).toBeGreaterThan(M);
      expect([out.returnedPromise, out.asyncCalls, out.syncCalls, out.pending, out.max]).toEqual([M, M, N, M, M]);
      expect(out.stats).toEqual({
        // The M waiting publishes never complete, and are not counted.
        total_events_dispatched: N - M,
        rust_handler_dispatches: N - M,
        rust_handler_errors: N - M,
        rust_handler_shed: N - M,
        ffi_channel_dispatches: 0,
        ffi_channel_drops: N - M,
        ffi_channel_lagged: 0,
        rust_subscriber_patterns: 2,
        rust_handler_count: 2,
        ffi_subscriber_count: 0,
      });
    },
    120_000,
  );

  it('control: with the bound lifted to its maximum, the same child runs out of memory (so the test above can fail)', async () => {
    const r = await run('fresh', 10_000, String(2 ** 20));
    expect(r.code === 0 && r.signal === null).toBe(false);
    expect(r.stderr).toMatch(/heap out of memory|Allocation failed/i);
  }, 120_000);
});

describe.each(BACKENDS)('bounded backlog on several threads (%s backend)', (backend) => {
  it('3 threads x 20,000 publishes sharing one stats name, plus a thread terminated mid-loop: every completed publish counted once', async () => {
    const { Worker } = await import('node:worker_threads');
    const THREADS = 3;
    const N = 20_000;
    const M = 50;
    const registry = StatsRegistry.create({ backend });
    const start = new Int32Array(new SharedArrayBuffer(4));
    const progress = new Int32Array(new SharedArrayBuffer(4 * (THREADS + 1)));
    const url = new URL('./workers/backlog-worker.mjs', import.meta.url);
    const workers = Array.from({ length: THREADS + 1 }, (_, index) => {
      const killed = index === THREADS;
      return new Worker(url, { workerData: { handle: registry.handle, backend, name: killed ? 'killed' : 'bus', n: killed ? -1 : N, max: M, progress, index, start } });
    });
    try {
      await Promise.all(workers.map((w) => new Promise<void>((res, rej) => {
        w.once('message', (m) => (m === 'ready' ? res() : rej(new Error(String(m)))));
        w.once('error', rej);
      })));
      const results = Promise.all(workers.slice(0, THREADS).map((w) => new Promise<{ asyncCalls: number; syncCalls: number; promises: number; pending: number }>((res, rej) => {
        w.once('message', res);
        w.once('error', rej);
      })));
      Atomics.store(start, 0, 1);
      Atomics.notify(start, 0);
      for (const r of await results) expect(r).toEqual({ asyncCalls: M, syncCalls: N, promises: M, pending: M });
      while (Atomics.load(progress, THREADS) < 10 * M) await new Promise((r) => setTimeout(r, 2));
      await workers[THREADS]!.terminate();

      const total = THREADS * N;
      // The M publishes of each thread that await handlers are never completed, nor counted.
      expect(registry.eventBusStats('bus').snapshot()).toEqual({
        total_events_dispatched: total - THREADS * M,
        rust_handler_dispatches: total - THREADS * M,
        rust_handler_errors: total - THREADS * M,
        rust_handler_shed: total - THREADS * M,
        ffi_channel_dispatches: 0,
        ffi_channel_drops: total - THREADS * M,
        ffi_channel_lagged: 0,
        rust_subscriber_patterns: 0,
        rust_handler_count: 0,
        ffi_subscriber_count: 0,
      });
      // The terminated thread: each publish is recorded whole or not at all, so its counts
      // add up exactly; it may have died after recording one publish and before storing its
      // progress. The shed count is a record of its own after the publish's, which it may
      // have died before.
      const done = Atomics.load(progress, THREADS);
      const k = registry.eventBusStats('killed').snapshot();
      expect(k.total_events_dispatched - (done - M)).toBeGreaterThanOrEqual(0);
      expect(k.total_events_dispatched - (done - M)).toBeLessThanOrEqual(1);
      expect(k.rust_handler_dispatches).toBe(k.total_events_dispatched);
      expect(k.ffi_channel_drops).toBe(k.total_events_dispatched);
      expect(k.rust_handler_errors).toBe(k.total_events_dispatched);
      expect(k.rust_handler_errors - k.rust_handler_shed).toBeGreaterThanOrEqual(0);
      expect(k.rust_handler_errors - k.rust_handler_shed).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
