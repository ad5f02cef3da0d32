/*
 * The failure-rate window, on one thread with a fake clock: when it opens the breaker,
 * its slices and their edges, how it combines with failureThreshold, its reset on
 * closing, and its validation. Each case runs on wasm, on js, and on both at once (two
 * attachments of one memory taking turns). windowMs 1024 gives 16 slices of 64 ms, and
 * the clocks start on a slice boundary, so the edges are exact.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, NameConflictError, StatsRegistry, type CircuitBreaker, type CircuitBreakerConfig } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';
import { FakeClock, rawWord } from './helpers/breaker.js';

const SETUPS: [string, BackendKind[]][] = [
  ['wasm', ['wasm']],
  ['js', ['js']],
  ['wasm and js on one breaker', ['wasm', 'js']],
];

const START = 64 * 100_000;

function breakers(backends: BackendKind[], config: CircuitBreakerConfig, clock = new FakeClock(START), name = 'window') {
  const first = StatsRegistry.create({ backend: backends[0], capacityBytes: 1 << 20 });
  const registries = [first, ...backends.slice(1).map((backend) => StatsRegistry.attach(first.handle, { backend }))];
  const all = registries.map((r) => r.circuitBreaker(name, config, { clock: clock.read }));
  return { b: (i: number): CircuitBreaker => all[i % all.length]!, clock, registry: first };
}

const RATE = { failureThreshold: 100, failureRateThreshold: 0.5, minimumCalls: 4, windowMs: 1024 };

/** Records a pattern like 'FSSF' (F failure, S success), alternating breakers. */
function play(b: (i: number) => CircuitBreaker, pattern: string, d = 3): void {
  [...pattern].forEach((c, i) => (c === 'F' ? b(i).recordFailure(d) : b(i).recordSuccess(d)));
}

describe.each(SETUPS)('failure-rate window (%s)', (_label, backends) => {
  it('is off unless failureRateThreshold is given: alternating failures never open a breaker', () => {
    const { b } = breakers(backends, { failureThreshold: 2 });
    expect(b(0).config).toMatchObject({ failureRateThreshold: null, minimumCalls: null, windowMs: null });
    play(b, 'FS'.repeat(100));
    expect(b(1).metrics()).toMatchObject({ current_state: 'Closed', total_calls: 200, window_calls: 0, window_failures: 0 });
  });

  it('opens once minimumCalls calls are in and failures / calls reaches the threshold', () => {
    const { b } = breakers(backends, RATE);
    play(b, 'FSS');
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 3, window_failures: 1, consecutive_failures: 0 });
    play(b, 'F'); // 2 of 4
    expect(b(1).metrics()).toMatchObject({ current_state: 'Open', times_opened: 1, consecutive_failures: 1, window_calls: 4, window_failures: 2 });
  });

  it('below minimumCalls nothing opens; the success that brings it to minimumCalls can', () => {
    const { b } = breakers(backends, RATE);
    play(b, 'FFF');
    expect(b(0).state).toBe('Closed');
    play(b, 'S'); // 3 of 4 >= 0.5: opened by a success
    expect(b(0).metrics()).toMatchObject({ current_state: 'Open', times_opened: 1, consecutive_failures: 0, success_count: 1 });
  });

  it('a rate just below the threshold never opens it, with exact window counts', () => {
    const { b } = breakers(backends, { ...RATE, failureRateThreshold: 0.26, minimumCalls: 1 });
    play(b, 'SSSF'.repeat(50));
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 200, window_failures: 50, times_opened: 0 });
  });

  it('the window is the last 16 slices of 64 ms: a call 1023 ms old counts, 1024 ms old does not', () => {
    for (const [age, opens] of [
      [1023, true],
      [1024, false],
    ] as const) {
      const { b, clock } = breakers(backends, RATE);
      play(b, 'FFF');
      clock.advance(age);
      expect(b(0).metrics().window_calls).toBe(opens ? 3 : 0);
      play(b, 'S');
      expect(b(1).state, `age ${age}`).toBe(opens ? 'Open' : 'Closed');
    }
  });

  it('combines with failureThreshold: either rule opens it', () => {
    const consecutive = breakers(backends, { failureThreshold: 3, failureRateThreshold: 1, minimumCalls: 100, windowMs: 1024 });
    play(consecutive.b, 'FFF');
    expect(consecutive.b(0).metrics()).toMatchObject({ current_state: 'Open', consecutive_failures: 3, window_failures: 3 });
    const rate = breakers(backends, { failureThreshold: 3, failureRateThreshold: 0.5, minimumCalls: 6, windowMs: 1024 });
    play(rate.b, 'FFSFFS'); // never 3 in a row, 4 of 6
    expect(rate.b(0).metrics()).toMatchObject({ current_state: 'Open', consecutive_failures: 0, window_calls: 6 });
  });

  it('starts again when it closes from HalfOpen; the rest of the closing slice is not counted', () => {
    const { b, clock } = breakers(backends, { ...RATE, timeoutMs: 100, successThreshold: 1 });
    play(b, 'FFFF');
    expect(b(0).state).toBe('Open');
    clock.advance(100);
    const probe = b(0).acquirePermit();
    expect(b(0).metrics()).toMatchObject({ current_state: 'HalfOpen', window_calls: 4 }); // no floor while not Closed
    b(1).recordSuccess(1, probe);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 0, window_failures: 0 });
    play(b, 'FFFF'); // same slice as the closing: not in the window
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 0, total_calls: 9 });
    clock.advance(64);
    play(b, 'FFF');
    expect(b(1).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 3 });
    play(b, 'S');
    expect(b(1).state).toBe('Open');
  });

  it('the reset is dropped from the state word once the window has moved past it', () => {
    const { b, clock } = breakers(backends, { ...RATE, windowMs: 100 }); // 25 slices of 4 ms
    b(0).forceClosed();
    expect(rawWord(b(0)) >>> 9).not.toBe(0);
    clock.advance(4 * 25 - 4);
    play(b, 'S');
    expect(rawWord(b(0)) >>> 9).not.toBe(0); // still within the window: kept
    clock.advance(4);
    play(b, 'S');
    expect(rawWord(b(0)) >>> 9).toBe(0); // a window later: cleared by the record
    // Kept modulo 2^22 slices, the reset would otherwise come round 4.7 hours after the
    // closing: at 2^22 - 1 slices it would read as the next slice and hide this window.
    clock.advance(4 * (2 ** 22 - 1) - 100);
    play(b, 'FFS');
    expect(b(1).metrics()).toMatchObject({ window_calls: 3, window_failures: 2 });
    play(b, 'F');
    expect(b(1).state).toBe('Open');
  });

  it('forceClosed restarts it too', () => {
    const { b, clock } = breakers(backends, RATE);
    play(b, 'FFS');
    b(1).forceClosed();
    clock.advance(64);
    play(b, 'F');
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 1, window_failures: 1 });
  });

  it('probes and late records stay out of it', () => {
    const { b, clock } = breakers(backends, { ...RATE, timeoutMs: 10, successThreshold: 2 });
    b(0).forceOpen();
    clock.advance(10);
    const p1 = b(0).acquirePermit();
    const p2 = b(1).acquirePermit();
    b(0).recordSuccess(1, p1);
    clock.advance(64);
    b(1).recordSuccess(1, p2); // closes
    b(0).recordFailure(1, p1); // late: counted in the totals only
    b(1).recordFailure(1, p2);
    clock.advance(64);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', window_calls: 0, total_calls: 4, failure_count: 2 });
  });

  it('counts across the wrap-around of the 30-bit tick', () => {
    const { b, clock } = breakers(backends, RATE, new FakeClock(2 ** 30 - 128));
    play(b, 'FFS');
    clock.advance(200);
    expect(b(0).metrics().window_calls).toBe(3);
    play(b, 'S');
    expect(b(0).state).toBe('Open');
  });

  it('a window a second long: 32 slices of 32 ms, 992..1024 ms', () => {
    const { b, clock } = breakers(backends, { ...RATE, windowMs: 1000 });
    play(b, 'FFF');
    clock.advance(1023);
    expect(b(0).metrics().window_calls).toBe(3);
    clock.advance(1);
    expect(b(0).metrics().window_calls).toBe(0);
  });

  it('an unrecorded failure stays unrecorded: a rejected call changes nothing', () => {
    const { b } = breakers(backends, RATE);
    play(b, 'FS');
    const before = [rawWord(b(0)), b(0).metricsBigInt()];
    expect(() => b(0).recordFailure(-1)).toThrow();
    expect(() => b(1).recordSuccess(NaN)).toThrow();
    expect([rawWord(b(0)), b(0).metricsBigInt()]).toEqual(before);
  });
});

describe('failure-rate options', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['failureRateThreshold', { failureRateThreshold: 0 }],
    ['failureRateThreshold', { failureRateThreshold: -0.5 }],
    ['failureRateThreshold', { failureRateThreshold: 1.01 }],
    ['failureRateThreshold', { failureRateThreshold: NaN }],
    ['failureRateThreshold', { failureRateThreshold: '0.5' }],
    ['failureRateThreshold', { failureRateThreshold: Infinity }],
    ['minimumCalls', { failureRateThreshold: 0.5, minimumCalls: 0 }],
    ['minimumCalls', { failureRateThreshold: 0.5, minimumCalls: 1_000_001 }],
    ['minimumCalls', { failureRateThreshold: 0.5, minimumCalls: 2.5 }],
    ['minimumCalls', { minimumCalls: 10 }],
    ['windowMs', { failureRateThreshold: 0.5, windowMs: 99 }],
    ['windowMs', { failureRateThreshold: 0.5, windowMs: 3_600_001 }],
    ['windowMs', { failureRateThreshold: 0.5, windowMs: 1000.5 }],
    ['windowMs', { failureRateThreshold: 0.5, windowMs: '1000' }],
    ['windowMs', { windowMs: 1000 }],
    ['failureRate', { failureRate: 0.5 }],
  ];
  for (const [option, config] of bad) {
    it(`${JSON.stringify(config)}: InvalidOptionsError naming ${option}, nothing created`, () => {
      const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
      const before = registry.usage();
      let caught: unknown;
      try {
        registry.circuitBreaker('x', config as CircuitBreakerConfig);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidOptionsError);
      expect((caught as InvalidOptionsError).option).toBe(option);
      expect(registry.entries()).toEqual([]);
      expect(registry.usage()).toEqual(before);
    });
  }

  it('defaults, null as off, a resolved config opens the same breaker', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const a = registry.circuitBreaker('a', { failureRateThreshold: 1 });
    expect(a.config).toEqual({
      failureThreshold: 5,
      timeoutMs: 30_000,
      successThreshold: 2,
      probeLeaseMs: 60_000,
      failureRateThreshold: 1,
      minimumCalls: 10,
      windowMs: 60_000,
    });
    expect(registry.circuitBreaker('a', a.config)).toBe(a);
    const off = registry.circuitBreaker('off', { failureRateThreshold: null, minimumCalls: null, windowMs: null });
    expect(registry.circuitBreaker('off')).toBe(off);
    expect(Object.keys(a.config)).toEqual(['failureThreshold', 'timeoutMs', 'successThreshold', 'probeLeaseMs', 'failureRateThreshold', 'minimumCalls', 'windowMs']);
  });

  it('the policy is part of the config: another policy under one name is a NameConflictError', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    registry.circuitBreaker('db', { failureRateThreshold: 0.5, minimumCalls: 20, windowMs: 10_000 });
    for (const other of [{}, { failureRateThreshold: 0.6, minimumCalls: 20, windowMs: 10_000 }, { failureRateThreshold: 0.5, minimumCalls: 21, windowMs: 10_000 }, { failureRateThreshold: 0.5, minimumCalls: 20 }]) {
      expect(() => registry.circuitBreaker('db', other)).toThrow(NameConflictError);
    }
    expect(registry.entries()).toHaveLength(1);
  });
});
