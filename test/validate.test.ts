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
    for (const key of ['ffiChannelBufferSize', 'dispatchTimeoutMs', 'maxPendingDispatches', 'logSubscriberErrors', 'recordStats']) {
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
