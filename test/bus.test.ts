import { describe, expect, it } from 'vitest';
import {
  createDomainEvent,
  InProcessEventBus,
  InvalidEventError,
  InvalidOptionsError,
  InvalidPatternError,
  StatsRegistry,
  type DomainEvent,
} from '../src/index.js';
import { cellAddresses, setGeometry } from '../src/layout.js';
import { BUS_FIELDS, BUS_OUTCOME_FIRST } from '../src/stats/fields.js';
import { recordingLogger, testEvent } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

describe.each(BACKENDS)('InProcessEventBus (%s backend)', (backend) => {
  const newBus = (extra: Record<string, unknown> = {}) =>
    new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus', logger: recordingLogger(), ...extra });

  describe('ported from the original', () => {
    it('bus creation: all zero', () => {
      const s = newBus().getStatistics();
      expect(s.rust_subscriber_patterns).toBe(0);
      expect(s.rust_handler_count).toBe(0);
      expect(s.ffi_subscriber_count).toBe(0);
      expect(s.total_events_dispatched).toBe(0);
    });

    it('rust subscription: two patterns, two handlers', () => {
      const bus = newBus();
      bus.subscribe('payment.*', () => {});
      bus.subscribe('*', () => {});
      const s = bus.getStatistics();
      expect([s.rust_subscriber_patterns, s.rust_handler_count]).toEqual([2, 2]);
    });

    it('publish to rust handlers', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('payment.*', () => void n++);
      bus.publish(testEvent('payment.processed'));
      expect(n).toBe(1);
      const s = bus.getStatistics();
      expect([s.total_events_dispatched, s.rust_handler_dispatches]).toEqual([1, 1]);
    });

    it('publish with no match: handler not called, the dispatch still counted (as the original)', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('payment.*', () => void n++);
      bus.publish(testEvent('order.created'));
      expect(n).toBe(0);
      expect(bus.getStatistics().rust_handler_dispatches).toBe(1);
    });

    it('publish to multiple matching patterns: exact, wildcard and global all run', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('payment.processed', () => void n++);
      bus.subscribe('payment.*', () => void n++);
      bus.subscribe('*', () => void n++);
      bus.publish(testEvent('payment.processed'));
      expect(n).toBe(3);
    });

    it('fire-and-forget error handling: the failing handler is counted, the other still runs', () => {
      const bus = newBus({ logSubscriberErrors: true });
      let n = 0;
      bus.subscribe('payment.*', () => {
        throw new Error('intentional test failure');
      });
      bus.subscribe('payment.*', () => void n++);
      expect(() => bus.publish(testEvent('payment.processed'))).not.toThrow();
      expect(n).toBe(1);
      expect(bus.getStatistics().rust_handler_errors).toBe(1);
    });

    it('ffi broadcast: a receiver gets the event', async () => {
      const bus = newBus();
      const rx = bus.subscribeBroadcast();
      const event = testEvent('payment.processed');
      bus.publish(event);
      const got = await rx.next();
      expect(got.done).toBe(false);
      expect(got.value?.event_id).toBe(event.event_id);
      expect(got.value?.event_name).toBe('payment.processed');
    });

    it('ffi with no subscribers counts a drop', () => {
      const bus = newBus();
      bus.publish(testEvent('payment.processed'));
      expect(bus.getStatistics().ffi_channel_drops).toBe(1);
    });

    it('builder', () => {
      const bus = InProcessEventBus.builder(StatsRegistry.create({ backend }), 'built')
        .broadcastBufferSize(500)
        .logSubscriberErrors(false)
        .dispatchTimeoutMs(1000)
        .build();
      expect([bus.broadcastBufferSize, bus.logSubscriberErrors, bus.dispatchTimeoutMs]).toEqual([500, false, 1000]);
      expect(bus.name).toBe('built');
    });

    it('defaults are 1000 / true / 5000', () => {
      const bus = newBus();
      expect([bus.broadcastBufferSize, bus.logSubscriberErrors, bus.dispatchTimeoutMs]).toEqual([1000, true, 5000]);
    });

    it('clear subscriptions: handlers go, counters and receivers stay', () => {
      const bus = newBus();
      bus.subscribe('payment.*', () => {});
      const rx = bus.subscribeBroadcast();
      bus.publish(testEvent('payment.x'));
      expect(bus.getStatistics().rust_handler_count).toBe(1);
      bus.clearSubscriptions();
      const s = bus.getStatistics();
      expect([s.rust_handler_count, s.rust_subscriber_patterns, s.ffi_subscriber_count]).toEqual([0, 0, 1]);
      expect([s.total_events_dispatched, s.rust_handler_dispatches]).toEqual([1, 1]);
      bus.publish(testEvent('payment.x'));
      expect(bus.getStatistics().rust_handler_dispatches).toBe(1); // no handler registered: not counted
      expect(rx.size).toBe(2);
    });

    it('registry: empty pattern is rejected with a message saying it is empty', () => {
      const bus = newBus();
      let err: unknown;
      try {
        bus.subscribe('', () => {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidPatternError);
      expect((err as InvalidPatternError).pattern).toBe('');
      expect((err as Error).message).toContain('empty');
      expect(bus.handlerCount).toBe(0);
    });

    it('registry: two handlers on one pattern -> 1 pattern, 2 handlers', () => {
      const bus = newBus();
      bus.subscribe('payment.charged', () => {});
      bus.subscribe('payment.charged', () => {});
      expect([bus.patternCount, bus.handlerCount]).toEqual([1, 2]);
    });

    it('registry: wildcard dispatch', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('payment.*', () => void n++);
      bus.publish(testEvent('payment.charged'));
      bus.publish(testEvent('payment.failed'));
      expect(n).toBe(2);
      bus.publish(testEvent('order.created'));
      expect(n).toBe(2);
    });

    it('registry: global wildcard matches everything', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('*', () => void n++);
      for (const name of ['payment.charged', 'order.created', 'user.registered']) bus.publish(testEvent(name));
      expect(n).toBe(3);
    });

    it('registry: partial failure', () => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('payment.charged', () => void n++);
      bus.subscribe('payment.charged', () => {
        throw new Error('test failure');
      });
      bus.publish(testEvent('payment.charged'));
      expect(n).toBe(1);
      expect(bus.getStatistics().rust_handler_errors).toBe(1);
    });

    it('registry: async handlers run concurrently (both start before either finishes)', async () => {
      const bus = newBus();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const order: string[] = [];
      bus.subscribe('test.event', async () => {
        order.push('a start');
        await gate; // only released by the second handler
        order.push('a end');
      });
      bus.subscribe('test.event', async () => {
        order.push('b start');
        release();
      });
      await bus.publish(testEvent('test.event'));
      expect(order).toEqual(['a start', 'b start', 'a end']);
      expect(bus.getStatistics().rust_handler_errors).toBe(0);
    });
  });

  describe('patterns (SPEC §1)', () => {
    const cases: [pattern: string, name: string, matches: boolean][] = [
      ['payment.charged', 'payment.charged', true],
      ['payment.charged', 'payment.failed', false],
      ['payment.*', 'payment.charged', true],
      ['payment.*', 'payment.failed', true],
      ['payment.*', 'order.created', false],
      ['*', 'anything', true],
      ['*', 'payment.charged', true],
      ['*', '', true],
      ['*.charged', 'payment.charged', true],
      ['*.charged', 'order.charged', true],
      ['*.charged', 'payment.failed', false],
      ['payment.*', 'payment', false],
      ['payment.*', 'payment.charged.now', false],
      ['payment.*', 'payment.', true], // the empty segment is a segment
      ['*.*', 'a.b', true],
      ['*.*', 'a', false],
      ['a.*.c', 'a.b.c', true],
      ['a.*.c', 'a.b.d', false],
      ['pay*.x', 'payment.x', false], // no globbing inside a segment
      ['pay*.x', 'pay*.x', true],
      ['Payment.*', 'payment.charged', false], // case-sensitive
      [' payment.*', 'payment.charged', false], // no trimming
      ['payment.* ', 'payment.charged', false],
      ['payment', 'payment', true],
      ['payment', 'payment.charged', false],
      ['**', 'ab', false],
      ['**', '**', true],
    ];
    it.each(cases)('%j on %j -> %s', (pattern, name, matches) => {
      const bus = newBus();
      let n = 0;
      bus.subscribe(pattern, () => void n++);
      bus.publish(testEvent(name));
      expect(n).toBe(matches ? 1 : 0);
    });

    it('non-string patterns are InvalidPatternError', () => {
      const bus = newBus();
      for (const p of [undefined, null, 5, ['a'], {}]) expect(() => bus.subscribe(p as unknown as string, () => {})).toThrow(InvalidPatternError);
      expect(bus.handlerCount).toBe(0);
    });

    it('match lists are cached per name and invalidated by subscribe, unsubscribe and clear', () => {
      const bus = newBus();
      const calls: string[] = [];
      bus.subscribe('order.*', () => void calls.push('first'));
      bus.publish(testEvent('order.created')); // caches the list for order.created
      const off = bus.subscribe('order.created', () => void calls.push('second'));
      bus.publish(testEvent('order.created'));
      expect(calls).toEqual(['first', 'first', 'second']);
      off();
      off(); // idempotent
      bus.publish(testEvent('order.created'));
      expect(calls).toEqual(['first', 'first', 'second', 'first']);
      expect([bus.patternCount, bus.handlerCount]).toEqual([1, 1]);
      bus.clearSubscriptions();
      bus.publish(testEvent('order.created'));
      expect(calls).toHaveLength(4);
    });

    it('a handler subscribing during a publish does not run in that publish, but in the next', () => {
      const bus = newBus();
      const calls: string[] = [];
      bus.subscribe('x', () => {
        calls.push('outer');
        if (calls.length === 1) bus.subscribe('x', () => void calls.push('inner'));
      });
      bus.publish(testEvent('x'));
      expect(calls).toEqual(['outer']);
      bus.publish(testEvent('x'));
      expect(calls).toEqual(['outer', 'outer', 'inner']);
    });

    it('handlers run in subscription order, one call per registration', () => {
      const bus = newBus();
      const calls: string[] = [];
      const h = (e: DomainEvent) => void calls.push(`h:${e.event_name}`);
      bus.subscribe('*', () => void calls.push('global'));
      bus.subscribe('a.b', h);
      bus.subscribe('a.b', h);
      bus.publish(testEvent('a.b'));
      expect(calls).toEqual(['global', 'h:a.b', 'h:a.b']);
      expect(bus.handlerCount).toBe(3);
    });
  });

  describe('publish semantics', () => {
    it('a publish whose handlers are all synchronous returns undefined (no Promise)', () => {
      const bus = newBus();
      bus.subscribe('*', () => 42);
      bus.subscribe('*', () => ({ then: 'not a function' }));
      expect(bus.publish(testEvent('a'))).toBeUndefined();
      expect(newBus().publish(testEvent('a'))).toBeUndefined();
    });

    it('counts one dispatch per event (not per receiver) and keeps total == dispatches + drops', () => {
      const bus = newBus();
      bus.publish(testEvent('a'));
      const r1 = bus.subscribeBroadcast();
      bus.subscribeBroadcast();
      bus.publish(testEvent('a'));
      bus.publish(testEvent('a'));
      r1.close();
      bus.publish(testEvent('a'));
      const s = bus.getStatistics();
      expect([s.total_events_dispatched, s.ffi_channel_dispatches, s.ffi_channel_drops]).toEqual([4, 3, 1]);
      expect(s.total_events_dispatched).toBe(s.ffi_channel_dispatches + s.ffi_channel_drops);
    });

    it('a rejected promise is a handler error, counted when the publish settles', async () => {
      const bus = newBus();
      bus.subscribe('a', async () => {
        throw new Error('async failure');
      });
      bus.subscribe('a', async () => {});
      bus.subscribe('a', () => {
        throw new Error('sync failure');
      });
      const p = bus.publish(testEvent('a'));
      expect(p).toBeInstanceOf(Promise);
      // Nothing is counted while it awaits its handlers: the whole publish when it settles.
      const during = bus.getStatistics();
      expect([during.total_events_dispatched, during.rust_handler_dispatches, during.ffi_channel_drops]).toEqual([0, 0, 0]);
      await p;
      const s = bus.getStatistics();
      expect([s.total_events_dispatched, s.rust_handler_dispatches, s.rust_handler_errors, s.ffi_channel_drops]).toEqual([1, 1, 2, 1]);
    });

    it('a handler that never settles counts as an error after dispatchTimeoutMs', async () => {
      const logger = recordingLogger();
      const bus = newBus({ dispatchTimeoutMs: 20, logger });
      bus.subscribe('slow', () => new Promise(() => {}));
      bus.subscribe('slow', async () => {});
      const rx = bus.subscribeBroadcast();
      await bus.publish(testEvent('slow'));
      const s = bus.getStatistics();
      expect([s.rust_handler_dispatches, s.rust_handler_errors, s.ffi_channel_dispatches]).toEqual([1, 1, 1]);
      expect(rx.size).toBe(1);
      expect(logger.calls).toHaveLength(1);
      expect(logger.calls[0]!.message).toContain('did not settle');
    });

    it('a thenable that is not a Promise is awaited too; one whose then() throws is an error', async () => {
      const bus = newBus();
      bus.subscribe('t', () => ({ then: (ok: () => void) => ok() }));
      bus.subscribe('t', () => ({
        then: () => {
          throw new Error('bad thenable');
        },
      }));
      await bus.publish(testEvent('t'));
      const s = bus.getStatistics();
      expect([s.rust_handler_dispatches, s.rust_handler_errors]).toEqual([1, 1]);
    });

    it('logSubscriberErrors: true reports each failure, false one aggregate per publish', async () => {
      const each = recordingLogger();
      const bus1 = newBus({ logger: each });
      const agg = recordingLogger();
      const bus2 = newBus({ logger: agg, logSubscriberErrors: false });
      for (const bus of [bus1, bus2]) {
        bus.subscribe('e', () => {
          throw new Error('one');
        });
        bus.subscribe('e', () => {
          throw new Error('two');
        });
        bus.subscribe('e', () => {});
        bus.publish(testEvent('e'));
      }
      expect(each.calls.map((c) => c.details.pattern)).toEqual(['e', 'e']);
      expect(each.calls[0]!.message).toContain('one');
      expect(each.calls[1]!.message).toContain('two');
      expect(agg.calls).toHaveLength(1);
      expect(agg.calls[0]!.details.error_count).toBe(2);
      // Async failures are aggregated too, once, when the publish settles.
      bus2.subscribe('e', async () => {
        throw new Error('three');
      });
      await bus2.publish(testEvent('e'));
      expect(agg.calls).toHaveLength(2);
      expect(agg.calls[1]!.details.error_count).toBe(3);
    });

    it('a logger that throws does not make publish throw', () => {
      const bus = newBus({
        logger: {
          warn() {
            throw new Error('logger down');
          },
        },
      });
      bus.subscribe('x', () => {
        throw new Error('handler');
      });
      expect(() => bus.publish(testEvent('x'))).not.toThrow();
      expect(bus.getStatistics().rust_handler_errors).toBe(1);
    });

    it.each([null, undefined, 'payment.charged', 42, [], [testEvent('a')], true])('publish(%j) is an InvalidEventError and changes nothing', (bad) => {
      const bus = newBus();
      let n = 0;
      bus.subscribe('*', () => void n++);
      const before = bus.getStatistics();
      expect(() => bus.publish(bad as unknown as DomainEvent)).toThrow(InvalidEventError);
      expect(bus.getStatistics()).toEqual(before);
      expect(n).toBe(0);
    });

    it('an event whose event_name is not a string is an InvalidEventError', () => {
      const bus = newBus();
      expect(() => bus.publish({ ...testEvent('a'), event_name: 5 } as unknown as DomainEvent)).toThrow(InvalidEventError);
      expect(() => bus.publish({} as DomainEvent)).toThrow(/event_name/);
      expect(bus.getStatistics().total_events_dispatched).toBe(0);
    });

    it('recordStats: false records nothing', () => {
      const bus = newBus({ recordStats: false });
      bus.subscribe('*', () => {});
      bus.publish(testEvent('a'));
      expect(bus.getStatistics().total_events_dispatched).toBe(0);
    });
  });

  describe('shared stats', () => {
    it('buses opened with one name share counters; live fields are the asking bus', () => {
      const r1 = StatsRegistry.create({ backend });
      const r2 = StatsRegistry.attach(r1.handle, { backend: backend === 'wasm' ? 'js' : 'wasm' });
      const a = new InProcessEventBus({ registry: r1, name: 'shared' });
      const b = new InProcessEventBus({ registry: r2, name: 'shared' });
      a.subscribe('x.*', () => {});
      a.subscribe('y', () => {});
      b.subscribeBroadcast();
      a.publish(testEvent('x.1'));
      b.publish(testEvent('x.1'));
      b.publish(testEvent('x.2'));
      const sa = a.getStatistics();
      const sb = b.getStatistics();
      expect(sa).toMatchObject({ total_events_dispatched: 3, rust_handler_dispatches: 1, ffi_channel_dispatches: 2, ffi_channel_drops: 1 });
      expect(sb).toMatchObject({ total_events_dispatched: 3, rust_handler_dispatches: 1, ffi_channel_dispatches: 2, ffi_channel_drops: 1 });
      expect([sa.rust_subscriber_patterns, sa.rust_handler_count, sa.ffi_subscriber_count]).toEqual([2, 2, 0]);
      expect([sb.rust_subscriber_patterns, sb.rust_handler_count, sb.ffi_subscriber_count]).toEqual([0, 0, 1]);
      expect(a.stats).toBe(r1.eventBusStats('shared'));
    });

    it('plain publishes stay exact across the carry of their outcome cell (handlers only; handlers and a receiver)', () => {
      for (const withReceiver of [false, true]) {
        const registry = StatsRegistry.create({ backend });
        const bus = new InProcessEventBus({ registry, name: 'bus', logger: recordingLogger() });
        let handled = 0;
        bus.subscribe('*', () => void handled++);
        const rx = withReceiver ? bus.subscribeBroadcast() : undefined;
        // The same owned cell publish() stores inline: bring it to 2 below the 2^24 carry.
        const flags = withReceiver ? 3 : 1;
        const before = 2 ** 24 - 2;
        for (let i = 0; i < before; i++) bus.stats.countPublish(flags);
        for (let i = 0; i < 5; i++) {
          expect(bus.publish(testEvent('a'))).toBeUndefined();
          if (rx) expect(rx.tryReceive()?.event_name).toBe('a');
        }
        expect(handled).toBe(5);
        const n = BigInt(before + 5);
        expect(bus.getStatisticsBigInt()).toMatchObject({
          total_events_dispatched: n,
          rust_handler_dispatches: n,
          ffi_channel_dispatches: withReceiver ? n : 0n,
          ffi_channel_drops: withReceiver ? 0n : n,
          rust_handler_errors: 0n,
          ffi_channel_lagged: 0n,
        });
        // The carry itself, as the writer must leave it: high word 1, and the low word
        // tagged with it. (A reader would decode a skipped carry right for another 127.)
        const dataOffset = registry.checkedRecords().find((e) => e.name === 'bus')!.dataOffset;
        const at = cellAddresses(setGeometry(BUS_FIELDS.length, true, registry.stripes), dataOffset, BUS_OUTCOME_FIRST + flags, registry.slot);
        expect(new BigUint64Array(registry.views.u8.buffer)[at.high >>> 3]).toBe(1n);
        expect(new Uint32Array(registry.views.u8.buffer)[at.low >>> 2]).toBe(2 ** 24 + 3);
      }
    });

    it('getStatisticsBigInt gives the same counts as bigints', () => {
      const bus = newBus();
      bus.publish(testEvent('a'));
      expect(bus.getStatisticsBigInt()).toMatchObject({ total_events_dispatched: 1n, ffi_channel_drops: 1n, ffi_subscriber_count: 0 });
    });
  });

  it('createDomainEvent fills id, version, correlation id and time, and the bus accepts it', () => {
    const e = createDomainEvent({
      event_name: 'payment.charged',
      payload: { amount: 5 },
      metadata: { task_uuid: 't', namespace: 'n', fired_by: 'me' },
    });
    expect(e.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.event_version).toBe('1.0');
    expect(e.metadata.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(e.metadata.fired_at))).toBe(false);
    expect(e.metadata).toMatchObject({ task_uuid: 't', namespace: 'n', fired_by: 'me' });
    const bus = newBus();
    let got: DomainEvent | undefined;
    bus.subscribe('payment.*', (ev) => void (got = ev));
    bus.publish(e);
    expect(got).toBe(e);
  });

  describe('invalid configuration', () => {
    const registry = StatsRegistry.create({ backend });
    it.each([
      ['broadcastBufferSize', 0],
      ['broadcastBufferSize', -1],
      ['broadcastBufferSize', 1.5],
      ['broadcastBufferSize', '10'],
      ['broadcastBufferSize', 2 ** 21],
      ['dispatchTimeoutMs', 0],
      ['dispatchTimeoutMs', 2.5],
      ['dispatchTimeoutMs', Number.NaN],
      ['dispatchTimeoutMs', 2 ** 31],
      ['logSubscriberErrors', 'yes'],
      ['recordStats', 1],
      ['logger', {}],
      ['name', ''],
      ['name', 7],
      ['registry', {}],
      ['bufferSize', 10],
    ])('%s = %j is an InvalidOptionsError naming the field', (field, value) => {
      let err: unknown;
      try {
        new InProcessEventBus({ registry, name: 'cfg', [field]: value } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe(field);
      expect((err as Error).message).toContain(field);
    });

    it('no options at all, or a non-function handler, are InvalidOptionsError', () => {
      expect(() => new InProcessEventBus(undefined as never)).toThrow(InvalidOptionsError);
      expect(() => newBus().subscribe('a', 'handler' as never)).toThrow(InvalidOptionsError);
    });
  });
});
