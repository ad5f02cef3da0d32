/*
 * The shared argument checks (src/validate.ts), through the public API: every kind and
 * component rejects the same bad values with the same typed error and message, values
 * whose conversion to text would throw (a bigint in JSON, a hostile toString) still get
 * a typed error, and a rejected call changes nothing.
 */
import { expectRejectedKeeping } from './helpers/metrics.js';
import { describe, expect, it } from 'vitest';
import {
  InProcessEventBus,
  InvalidHandleError,
  InvalidOptionsError,
  RegistryClosedError,
  StatsRegistry,
  WorkerEventSubscriber,
  exponentialBuckets,
  linearBuckets,
  nativeBuckets,
} from '../src/index.js';

function state(r: StatsRegistry): unknown {
  return { entries: r.entries(), usage: r.usage() };
}

function rejected(r: StatsRegistry, call: () => unknown, type: new (...a: never[]) => Error): Error {
  return expectRejectedKeeping(() => state(r), call, type);
}

// Its text form throws: String(x) and `${x}` run user code.
const hostile = {
  toString(): string {
    throw new Error('toString ran');
  },
};

describe('values that cannot be printed plainly', () => {
  it('a bigint field name is InvalidOptionsError (JSON.stringify would throw a TypeError)', () => {
    const r = StatsRegistry.create();
    r.counters('kept', ['a']).counter('a').add(3);
    const err = rejected(r, () => r.counters('c', [1n as never]), InvalidOptionsError);
    expect(err.message).toContain('1n is not a valid field name');
  });

  it('a bigint type tag in a handle is InvalidHandleError, naming the value', () => {
    const r = StatsRegistry.create();
    const err = rejected(r, () => StatsRegistry.attach({ ...r.handle, type: 1n } as never), InvalidHandleError);
    expect(err.message).toBe('not an atomic-stats registry handle: its type tag is 1n, expected "atomic-stats/registry": pass the object from registry.handle');
  });

  it('an option whose toString throws is InvalidOptionsError, for the registry, a bus and a subscriber', () => {
    expect(() => StatsRegistry.create({ capacityBytes: hostile as never })).toThrow(InvalidOptionsError);
    expect(() => StatsRegistry.create({ stripes: hostile as never })).toThrow(InvalidOptionsError);
    expect(() => StatsRegistry.create({ backend: hostile as never })).toThrow(InvalidOptionsError);
    const r = StatsRegistry.create();
    for (const key of ['broadcastBufferSize', 'dispatchTimeoutMs', 'maxPendingDispatches', 'logSubscriberErrors', 'recordStats']) {
      const err = rejected(r, () => new InProcessEventBus({ registry: r, name: 'bus', [key]: hostile }), InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe(key);
      expect(err.message).toContain('[object Object]');
    }
    for (const key of ['maxReportsPerInterval', 'reportIntervalMs', 'logStacks']) {
      rejected(r, () => new InProcessEventBus({ registry: r, name: 'bus', [key]: hostile }), InvalidOptionsError);
      rejected(r, () => new WorkerEventSubscriber({ registry: r, name: 'sub', workerId: 'w', [key]: hostile }), InvalidOptionsError);
    }
  });
});

describe('one check, one message', () => {
  it('an integer range reads alike on the registry, a bus, a subscriber and a breaker', () => {
    const r = StatsRegistry.create();
    const message = (call: () => unknown): string => rejected(r, call, InvalidOptionsError).message;
    expect(message(() => StatsRegistry.create({ capacityBytes: 'big' as never }))).toMatch(/^capacityBytes: must be an integer from \d+ to \d+, got "big"$/);
    const bus = message(() => new InProcessEventBus({ registry: r, name: 'bus', reportIntervalMs: 0 }));
    const sub = message(() => new WorkerEventSubscriber({ registry: r, name: 'sub', workerId: 'w', reportIntervalMs: 0 }));
    expect(bus).toBe('reportIntervalMs: must be an integer from 1 to 2147483647, got 0');
    expect(sub).toBe(bus);
    expect(message(() => new InProcessEventBus({ registry: r, name: 'bus', dispatchTimeoutMs: '5' as never }))).toBe(
      'dispatchTimeoutMs: must be an integer from 1 to 2147483647, got "5"',
    );
    expect(message(() => r.circuitBreaker('b', { failureThreshold: 0 }))).toBe('failureThreshold: must be an integer from 1 to 100, got 0');
  });

  // Each bad value with the text the message must show for it (never the value's own
  // toString, which may throw or lie).
  const noProto = Object.create(null) as object;
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('every integer option reads `<option>: must be an integer from <min> to <max>, got <value>`, whatever the value', () => {
    const r = StatsRegistry.create();
    r.counters('kept', ['a']).counter('a').add(3);
    const bad: [unknown, string][] = [[noProto, '[object Object]'], [hostile, '[object Object]'], ['5', '"5"'], [1.5, '1.5'], [-10, '-10'], [2 ** 40, '1099511627776'], [Number.NaN, 'NaN'], [10n, '10n']];
    const options: [string, number | undefined, (v: unknown) => unknown][] = [
      ['count', 1, (v) => linearBuckets(0, 1, v as never)],
      ['count', 1, (v) => exponentialBuckets(1, 2, v as never)],
      ['maxSeries', 1, (v) => r.counter({ name: 'm_total', help: 'M.', maxSeries: v as never })],
      ['schema', -4, (v) => nativeBuckets(v as never, 0.001, 10)],
      ['correlationTimeoutMs', 1, (v) => new WorkerEventSubscriber({ registry: r, name: 'sub', workerId: 'w', correlationTimeoutMs: v as never })],
      ['callTimeoutMs', 1, (v) => r.circuitBreaker('b', { callTimeoutMs: v as never })],
      ['dispatchTimeoutMs', 1, (v) => new InProcessEventBus({ registry: r, name: 'bus', dispatchTimeoutMs: v as never })],
    ];
    for (const [option, min, call] of options) {
      for (const [value, text] of bad) {
        const err = rejected(r, () => call(value), InvalidOptionsError) as InvalidOptionsError;
        expect(err.option).toBe(option);
        expect(err.message).toMatch(new RegExp(`^${option}: must be an integer from ${min} to \\d+, got ${escape(text)}$`));
      }
    }
    for (const [value, text] of [...bad, [3, '3'], [512, '512']] as [unknown, string][]) {
      expect(() => StatsRegistry.create({ stripes: value as never })).toThrow(new InvalidOptionsError('stripes', `must be a power of two from 1 to 256, got ${text}`));
    }
  });

  it("a call's timeoutMs reads like the config's callTimeoutMs, and a refused call neither runs fn nor records", async () => {
    const r = StatsRegistry.create();
    const breaker = r.circuitBreaker('b', { callTimeoutMs: 1000 });
    const configMessage = rejected(r, () => r.circuitBreaker('c', { callTimeoutMs: 0 }), InvalidOptionsError).message;
    expect(configMessage).toMatch(/^callTimeoutMs: must be an integer from 1 to \d+, got 0$/);
    const before = state(r);
    const metrics = breaker.metrics();
    let ran = 0;
    for (const [value, text] of [[0, '0'], [noProto, '[object Object]'], [hostile, '[object Object]'], [2.5, '2.5']] as [unknown, string][]) {
      const err = await breaker.call(() => ran++, { timeoutMs: value as never }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as Error).message).toBe(configMessage.replace(/^callTimeoutMs/, 'timeoutMs').replace(/got 0$/, `got ${text}`));
    }
    expect(ran).toBe(0);
    expect(breaker.metrics()).toEqual(metrics);
    expect(state(r)).toEqual(before);
  });

  it('every boolean option reads `<option>: must be a boolean, got <value>`, whatever the value', () => {
    const r = StatsRegistry.create();
    r.counters('kept', ['a']).counter('a').add(3);
    const completions = r.workerSubscriberStats('completions');
    const bad: [unknown, string][] = [[noProto, '[object Object]'], [hostile, '[object Object]'], ['yes', '"yes"'], [1, '1'], [0, '0'], [null, 'null'], [10n, '10n']];
    const options: [string, (v: unknown) => unknown][] = [
      ['striped', (v) => r.counters('c', ['a'], { striped: v as never })],
      ['float', (v) => r.counter({ name: 'c_total', help: 'C.', float: v as never })],
      ['striped', (v) => r.stepExecutionStats('steps', { striped: v as never })],
      ['striped', (v) => r.eventBusStats('buses', { striped: v as never })],
      ['durations', (v) => r.stepExecutionStats('steps', { durations: v as never })],
      ['durations', (v) => r.circuitBreaker('b', undefined, { durations: v as never })],
      ['correlate', (v) => new WorkerEventSubscriber({ registry: r, name: 'sub', workerId: 'w', correlate: v as never })],
      ['logStacks', (v) => new InProcessEventBus({ registry: r, name: 'bus', logStacks: v as never })],
      ['success', (v) => completions.recordCompletion(v as never)],
    ];
    for (const [option, call] of options) {
      for (const [value, text] of bad) {
        const err = rejected(r, () => call(value), InvalidOptionsError) as InvalidOptionsError;
        expect(err.option).toBe(option);
        expect(err.message).toBe(`${option}: must be a boolean, got ${text}`);
      }
    }
    // A metric's `striped` also takes "adaptive" (its default), and says so.
    for (const call of [(v: unknown) => r.counter({ name: 'c_total', help: 'C.', striped: v as never }), (v: unknown) => r.histogram({ name: 'h', help: 'H.', buckets: [1], striped: v as never })]) {
      for (const [value, text] of bad) {
        const err = rejected(r, () => call(value), InvalidOptionsError) as InvalidOptionsError;
        expect(err.option).toBe('striped');
        expect(err.message).toBe(`striped: must be a boolean or "adaptive", got ${text}`);
      }
    }
  });

  it('names are checked alike by every kind and component', () => {
    const r = StatsRegistry.create();
    const bad = ['', '\uD800', 'x'.repeat(1000), 7];
    for (const name of bad) {
      const messages = [
        () => r.counters(name as never, ['a']),
        () => r.stepExecutionStats(name as never),
        () => r.eventBusStats(name as never),
        () => r.circuitBreaker(name as never),
        () => new InProcessEventBus({ registry: r, name: name as never }),
        () => new WorkerEventSubscriber({ registry: r, name: name as never, workerId: 'w' }),
      ].map((call) => rejected(r, call, InvalidOptionsError).message);
      expect(new Set(messages).size).toBe(1);
    }
  });
});

describe('components on a closed registry object', () => {
  it('a bus or subscriber cannot be opened through it; one opened before keeps counting', () => {
    const r = StatsRegistry.create();
    const bus = new InProcessEventBus({ registry: r, name: 'bus' });
    const handle = r.handle;
    r.close();
    expect(() => new InProcessEventBus({ registry: r, name: 'bus' })).toThrow(RegistryClosedError);
    expect(() => new InProcessEventBus({ registry: r, name: 'other' })).toThrow(RegistryClosedError);
    expect(() => new WorkerEventSubscriber({ registry: r, name: 'sub', workerId: 'w' })).toThrow(RegistryClosedError);
    bus.publish({ event_name: 'x' } as never);
    bus.publish({ event_name: 'y' } as never);
    const other = StatsRegistry.attach(handle);
    expect(other.entries().map((e) => e.name)).toEqual(['bus']);
    expect(other.eventBusStats('bus').snapshot().total_events_dispatched).toBe(2);
    expect(bus.getStatistics().total_events_dispatched).toBe(2);
  });

  it('a registry object is what the bus and the subscriber accept; anything else is refused', () => {
    const r = StatsRegistry.create();
    for (const registry of [{}, { ...r }, null]) {
      const a = rejected(r, () => new InProcessEventBus({ registry: registry as never, name: 'bus' }), InvalidOptionsError);
      expect(a.message).toBe('registry: must be a StatsRegistry');
      const b = rejected(r, () => new WorkerEventSubscriber({ registry: registry as never, name: 'sub', workerId: 'w' }), InvalidOptionsError);
      expect(b.message).toBe(a.message);
    }
  });
});
