// Publishes from inside handlers, and throws from anywhere inside publish(): the
// maxPendingDispatches bound holds for re-entrant publishes, and whatever throws (a handler,
// a getter on the event, a RangeError when a chain of publishes overflows the stack) the
// counters stay consistent: once nothing is in flight, total_events_dispatched ==
// ffi_channel_dispatches + ffi_channel_drops, every publish that returned is counted exactly
// once, one that threw is not counted at all, and pendingDispatches is back to 0.
import { describe, expect, it } from 'vitest';
import { InProcessEventBus, InvalidEventError, StatsRegistry } from '../src/index.js';
import { recordingLogger, testEvent } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((res) => {
    open = res;
  });
  return { promise, open };
}

/** Resolves once `bus.pendingDispatches` is 0 (the dispatch timers have fired). */
async function drained(bus: InProcessEventBus): Promise<void> {
  for (let i = 0; i < 2000 && bus.pendingDispatches > 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(bus.pendingDispatches).toBe(0);
}

/** Runs `f` with `k` more frames on the stack, so a stack overflow in `f` hits another instruction. */
function atDepth(k: number, f: () => void): void {
  if (k === 0) f();
  else atDepth(k - 1, f);
}

function consistent(bus: InProcessEventBus) {
  const s = bus.getStatistics();
  expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);
  expect(s.rust_handler_shed).toBeLessThanOrEqual(s.rust_handler_errors);
  return s;
}

describe.each(BACKENDS)('re-entrant publishes and throws inside publish (%s backend)', (backend) => {
  const newBus = (extra: Record<string, unknown> = {}) => {
    const logger = recordingLogger();
    const bus = new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus', logger, ...extra });
    return { bus, logger };
  };

  it('a chain of publishes from handlers, 4x deeper than the bound, never holds more than maxPendingDispatches', async () => {
    const { bus, logger } = newBus({ maxPendingDispatches: 10 });
    const g = gate();
    let depth = 0;
    let maxSeen = 0;
    const returned: unknown[] = [];
    bus.subscribe('e', () => {
      if (depth++ < 40) returned.push(bus.publish(testEvent('e')));
      // A thenable whose then() is called once the publish awaits it: the bound must
      // already hold then, and at every later point.
      return {
        then(ok: () => void) {
          maxSeen = Math.max(maxSeen, bus.pendingDispatches);
          void g.promise.then(ok);
        },
      };
    });
    const rx = bus.subscribeBroadcast();
    returned.push(bus.publish(testEvent('e')));
    expect(depth).toBe(41);
    expect(bus.pendingDispatches).toBe(10);
    expect(maxSeen).toBe(10);
    // The innermost ten take the slots (they reach them first); the 31 outer ones find
    // the bound reached: their thenables are not awaited, and they complete at once.
    expect(returned.filter((r) => r instanceof Promise)).toHaveLength(10);
    expect(returned.filter((r) => r === undefined)).toHaveLength(31);
    // The ten waiting ones are counted when they complete.
    expect(bus.getStatistics()).toMatchObject({
      total_events_dispatched: 31,
      rust_handler_dispatches: 31,
      rust_handler_errors: 31,
      rust_handler_shed: 31,
      ffi_channel_dispatches: 31,
    });
    expect(rx.size).toBe(31);
    expect(logger.calls.filter((c) => c.details.reason === 'shed')).toHaveLength(10); // rate-limited: 10 per window
    g.open();
    await Promise.all(returned);
    expect(bus.pendingDispatches).toBe(0);
    expect(maxSeen).toBe(10);
    const s = consistent(bus);
    expect(s).toMatchObject({ total_events_dispatched: 41, rust_handler_dispatches: 41, rust_handler_errors: 31, rust_handler_shed: 31, ffi_channel_dispatches: 41 });
    expect(rx.size).toBe(41);
    // The handler is known as asynchronous now: at the bound it is not called at all.
    const hold = gate();
    const first = bus.publish(testEvent('x'));
    expect(first).toBeUndefined(); // no handler on 'x'
    bus.subscribe('x', () => hold.promise);
    const held = Array.from({ length: 10 }, () => bus.publish(testEvent('x')));
    expect(bus.pendingDispatches).toBe(10);
    depth = 0;
    expect(bus.publish(testEvent('e'))).toBeUndefined();
    expect(depth).toBe(0);
    hold.open();
    await Promise.all(held);
    consistent(bus);
  });

  it('a chain of synchronous handlers deeper than the bound awaits nothing and sheds nothing', () => {
    const { bus } = newBus({ maxPendingDispatches: 1 });
    let depth = 0;
    bus.subscribe('e', () => {
      if (depth++ < 100) expect(bus.publish(testEvent('e'))).toBeUndefined();
    });
    expect(bus.publish(testEvent('e'))).toBeUndefined();
    expect(bus.pendingDispatches).toBe(0);
    expect(consistent(bus)).toMatchObject({ total_events_dispatched: 101, rust_handler_dispatches: 101, rust_handler_errors: 0, rust_handler_shed: 0 });
  });

  it('a thenable whose then() publishes again counts against the bound too', async () => {
    const { bus } = newBus({ maxPendingDispatches: 3 });
    const g = gate();
    let depth = 0;
    let maxSeen = 0;
    const returned: unknown[] = [];
    bus.subscribe('e', () => ({
      then(ok: () => void) {
        maxSeen = Math.max(maxSeen, bus.pendingDispatches);
        if (depth++ < 10) returned.push(bus.publish(testEvent('e')));
        void g.promise.then(ok);
      },
    }));
    returned.push(bus.publish(testEvent('e')));
    expect(maxSeen).toBeLessThanOrEqual(3);
    expect(bus.pendingDispatches).toBe(3);
    g.open();
    await Promise.all(returned);
    expect(consistent(bus)).toMatchObject({ total_events_dispatched: 4, rust_handler_dispatches: 4, rust_handler_shed: 1 });
  });

  // Infinite recursion: every publish runs a handler that publishes again, until the stack
  // overflows. The RangeError surfaces wherever the stack runs out (in a handler, in the
  // bus's own code before, during or after its bookkeeping, in a report); running the
  // recursion from 32 different starting depths moves that point through the code. Each
  // handler counts the publishes it saw return and rethrows the ones that threw (so its
  // bus counts a failure).
  describe.each([
    ['awaiting (a promise per handler)', 'async', 10_000],
    ['awaiting, bound 5', 'async', 5],
    ['synchronous handlers', 'sync', 10_000],
    ['thenables that call back at once', 'instant', 10_000],
  ] as const)('infinite recursion to a stack overflow: %s', (_label, kind, maxPendingDispatches) => {
    it.each([
      [true, false],
      [false, true],
    ])('logSubscriberErrors %s, receiver %s: counters consistent, every returned publish counted once, nothing left pending', async (log, withReceiver) => {
      for (let k = 0; k < 32; k++) {
        const { bus } = newBus({ maxPendingDispatches, dispatchTimeoutMs: 20, logSubscriberErrors: log, maxReportsPerInterval: 0 });
        let returned = 0;
        let threw = 0;
        const release = gate();
        bus.subscribe('loop', () => {
          try {
            bus.publish({ event_name: 'loop' });
            returned++;
          } catch (e) {
            threw++;
            throw e;
          }
          if (kind === 'async') return release.promise;
          if (kind === 'instant') return { then: (ok: () => void) => ok() };
          return undefined;
        });
        const rx = withReceiver ? bus.subscribeBroadcast() : undefined;
        let outer = 0;
        atDepth(k, () => {
          try {
            bus.publish({ event_name: 'loop' });
            outer = 1;
          } catch {
            // A RangeError may even escape the outermost publish at some depths; then it
            // must have counted nothing.
          }
        });
        expect(bus.pendingDispatches).toBeLessThanOrEqual(maxPendingDispatches);
        release.open();
        await drained(bus);
        const s = consistent(bus);
        expect(threw + s.rust_handler_errors).toBeGreaterThan(0); // the stack did overflow
        expect(s.total_events_dispatched).toBe(returned + outer);
        expect(s.rust_handler_dispatches).toBe(returned + outer);
        if (rx !== undefined) expect(s.ffi_channel_drops).toBe(0);
        bus.close();
      }
    });
  });

  it('throws at each step of a publish leave nothing counted or pending', async () => {
    const { bus, logger } = newBus({ dispatchTimeoutMs: 20 });
    const rx = bus.subscribeBroadcast();
    const before = bus.getStatistics();
    // A getter on the event that throws: nothing counted, the error is the event's.
    const hostile = Object.defineProperty({}, 'event_name', {
      get() {
        throw new Error('getter');
      },
    });
    expect(() => bus.publish(hostile as never)).toThrow('getter');
    expect(() => bus.publish({ event_name: 5 } as never)).toThrow(InvalidEventError);
    expect(bus.getStatistics()).toEqual(before);
    expect(rx.size).toBe(0);

    // A handler that throws synchronously, one whose `then` getter throws, one whose then()
    // throws, a logger that throws, an event whose event_id getter throws: each is a
    // counted handler failure and publish() returns.
    const ev = Object.defineProperty({ event_name: 'h' }, 'event_id', {
      get() {
        throw new Error('id getter');
      },
    });
    bus.subscribe('h', () => {
      throw new Error('sync');
    });
    bus.subscribe('h', () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new Error('then getter');
        },
      }),
    );
    bus.subscribe('h', () => ({
      then() {
        throw new Error('then call');
      },
    }));
    bus.subscribe('h', () => Promise.reject(new Error('rejects')));
    bus.subscribe('h', () => new Promise(() => {})); // times out
    logger.warn = () => {
      throw new Error('logger');
    };
    const r = bus.publish(ev);
    expect(r).toBeInstanceOf(Promise);
    expect(bus.pendingDispatches).toBe(1);
    await r;
    expect(bus.pendingDispatches).toBe(0);
    const s = consistent(bus);
    expect(s).toMatchObject({ total_events_dispatched: 1, rust_handler_dispatches: 1, rust_handler_errors: 5, ffi_channel_dispatches: 1 });
    expect(rx.size).toBe(1);
  });
});
