// What a handler returns or throws can never make publish() throw, skip later handlers,
// or lose the event: hostile thenables, revoked Proxies, unprintable errors.
import { describe, expect, it } from 'vitest';
import { type DomainEvent, InProcessEventBus, StatsRegistry } from '../src/index.js';
import { recordingLogger, testEvent } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

const throwingProxy = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      getPrototypeOf() {
        throw new Error('trap');
      },
    },
  );

describe.each(BACKENDS)('hostile handler results (%s backend)', (backend) => {
  const newBus = (extra: Record<string, unknown> = {}) => {
    const logger = recordingLogger();
    const bus = new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus', logger, ...extra });
    return { bus, logger };
  };

  /**
   * Subscribes `hostile` between two well-behaved handlers, with a receiver open, publishes
   * once and returns what happened. The publish must not throw and must settle.
   */
  async function publishWith(hostile: () => unknown, extra: Record<string, unknown> = {}) {
    const { bus, logger } = newBus(extra);
    const ran: string[] = [];
    bus.subscribe('h.*', () => void ran.push('before'));
    bus.subscribe('h.*', hostile);
    bus.subscribe('h.*', () => void ran.push('after'));
    const rx = bus.subscribeBroadcast();
    const event = testEvent('h.x');
    let r: Promise<void> | undefined;
    expect(() => (r = bus.publish(event))).not.toThrow();
    const sync = r === undefined;
    if (r !== undefined) await expect(r).resolves.toBeUndefined();
    const got = rx.tryReceive();
    return { bus, logger, ran, sync, delivered: got?.event_id === event.event_id, s: bus.getStatistics() };
  }

  const once = { total_events_dispatched: 1, rust_handler_dispatches: 1, ffi_channel_dispatches: 1, ffi_channel_drops: 0 };

  it.each([
    [
      'a then getter that throws',
      () =>
        Object.defineProperty({}, 'then', {
          get() {
            throw new Error('getter');
          },
        }),
    ],
    ['a revoked Proxy', revoked],
    ['a Proxy whose get trap throws', throwingProxy],
  ])('%s: one synchronous handler failure; the others run, the event is counted and delivered', async (_label, hostile) => {
    const { ran, sync, delivered, s, logger } = await publishWith(hostile);
    expect(sync).toBe(true);
    expect(ran).toEqual(['before', 'after']);
    expect(delivered).toBe(true);
    expect(s).toMatchObject({ ...once, rust_handler_errors: 1, rust_handler_shed: 0 });
    expect(logger.calls).toHaveLength(1);
    expect(logger.calls[0]!.details.pattern).toBe('h.*');
  });

  it.each([
    ['then() throws before calling back', () => ({ then: () => { throw new Error('then'); } }), 1], // prettier-ignore
    ['then() rejects, then fulfils', () => ({ then: (ok: () => void, no: (e: unknown) => void) => { no(new Error('first')); ok(); } }), 1], // prettier-ignore
    ['then() fulfils, then rejects', () => ({ then: (ok: () => void, no: (e: unknown) => void) => { ok(); no(new Error('late')); } }), 0], // prettier-ignore
    ['then() fulfils twice', () => ({ then: (ok: () => void) => { ok(); ok(); } }), 0], // prettier-ignore
    ['then() fulfils, then throws', () => ({ then: (ok: () => void) => { ok(); throw new Error('after'); } }), 0], // prettier-ignore
    ['then() rejects twice', () => ({ then: (_: unknown, no: (e: unknown) => void) => { no(1); no(2); } }), 1], // prettier-ignore
    ['then() rejects with a revoked Proxy', () => ({ then: (_: unknown, no: (e: unknown) => void) => no(revoked()) }), 1], // prettier-ignore
    ['a function with a then method', () => Object.assign(() => {}, { then: (ok: () => void) => ok() }), 0], // prettier-ignore
  ])('%s: counted exactly once (%s errors), the first callback decides', async (_label, hostile, errors) => {
    const { ran, sync, delivered, s, logger } = await publishWith(hostile);
    expect(sync).toBe(false);
    expect(ran).toEqual(['before', 'after']);
    expect(delivered).toBe(true);
    expect(s).toMatchObject({ ...once, rust_handler_errors: errors });
    expect(logger.calls).toHaveLength(errors);
  });

  it('callbacks arriving later, twice over, count once', async () => {
    let ok!: () => void;
    const p = publishWith(() => ({ then: (f: () => void) => void (ok = f) }));
    await Promise.resolve();
    ok();
    ok();
    const { s } = await p;
    expect(s).toMatchObject({ ...once, rust_handler_errors: 0 });
  });

  it('a callback after dispatchTimeoutMs changes nothing: the timeout already counted the failure', async () => {
    let ok!: () => void;
    const { s, bus } = await publishWith(() => ({ then: (f: () => void) => void (ok = f) }), { dispatchTimeoutMs: 5 });
    expect(s).toMatchObject({ ...once, rust_handler_errors: 1 });
    ok();
    expect(bus.getStatistics()).toEqual(s);
  });

  it('then is read exactly once and the function read is the one called', async () => {
    let reads = 0;
    let calls = 0;
    const hostile = () =>
      Object.defineProperty({}, 'then', {
        get() {
          reads++;
          if (reads > 1) throw new Error('second read');
          return (ok: () => void) => {
            calls++;
            ok();
          };
        },
      });
    const { s } = await publishWith(hostile);
    expect([reads, calls]).toEqual([1, 1]);
    expect(s).toMatchObject({ ...once, rust_handler_errors: 0 });
  });

  it.each([
    ['a revoked Proxy', revoked],
    ['an Error whose message getter throws', () => Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no'); } })], // prettier-ignore
    ['a Proxy whose traps throw', throwingProxy],
    ['a Symbol', () => Symbol('s')],
  ])('a handler throwing %s is one failure, reported without throwing (with and without stacks)', async (_label, thrown) => {
    for (const logStacks of [false, true]) {
      const { ran, s, logger } = await publishWith(() => {
        throw thrown();
      }, { logStacks });
      expect(ran).toEqual(['before', 'after']);
      expect(s).toMatchObject({ ...once, rust_handler_errors: 1 });
      expect(logger.calls).toHaveLength(1);
      expect(typeof logger.calls[0]!.message).toBe('string');
    }
  });

  it('an event whose event_id getter throws: the failure is still reported, publish does not throw', () => {
    const { bus, logger } = newBus();
    bus.subscribe('x', () => {
      throw new Error('handler');
    });
    const event = {
      event_name: 'x',
      get event_id(): string {
        throw new Error('id');
      },
    } as unknown as DomainEvent;
    expect(() => bus.publish(event)).not.toThrow();
    expect(bus.getStatistics()).toMatchObject({ total_events_dispatched: 1, rust_handler_errors: 1 });
    expect(logger.calls).toHaveLength(1);
    expect(logger.calls[0]!.details.event_id).toBeUndefined();
  });

  it('with the default (one-line) logger, hostile errors are still written on one line each', async () => {
    const lines: string[] = [];
    const orig = console.warn;
    console.warn = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
    try {
      const bus = new InProcessEventBus({ registry: StatsRegistry.create({ backend }), name: 'bus' });
      bus.subscribe('x', () => {
        throw revoked();
      });
      bus.subscribe('x', () => ({ then: (_: unknown, no: (e: unknown) => void) => no(throwingProxy()) }));
      await bus.publish(testEvent('x'));
      expect(bus.getStatistics().rust_handler_errors).toBe(2);
      bus.close();
    } finally {
      console.warn = orig;
    }
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain('\n');
  });
});
