/*
 * The probe lease, on one thread with a fake clock: a half-open period whose probes are
 * not all recorded probeLeaseMs after its first probe reopens the breaker (once), permits
 * keep late records out of later periods, a broken clock never loses a record. Each case
 * runs on wasm, on js, and on both at once (two attachments of one memory taking turns).
 */
import { describe, expect, it } from 'vitest';
import { AtomicStatsError, InvalidOptionsError, StatsRegistry, type CircuitBreaker, type CircuitBreakerConfig } from '../src/index.js';
import type { BackendKind } from '../src/backend.js';
import { FakeClock, rawWord, setRawWord } from './helpers/breaker.js';

const SETUPS: [string, BackendKind[]][] = [
  ['wasm', ['wasm']],
  ['js', ['js']],
  ['wasm and js on one breaker', ['wasm', 'js']],
];

/** Breakers named `name` on one memory, one per backend, all reading `clock`. */
function breakers(backends: BackendKind[], config: CircuitBreakerConfig, clock = new FakeClock(), name = 'lease') {
  const first = StatsRegistry.create({ backend: backends[0], capacityBytes: 1 << 20 });
  const registries = [first, ...backends.slice(1).map((backend) => StatsRegistry.attach(first.handle, { backend }))];
  const all = registries.map((r) => r.circuitBreaker(name, config, { clock: clock.read }));
  // b(i) takes turns between the backends, so every step may run on either.
  return { b: (i: number): CircuitBreaker => all[i % all.length]!, all, clock, registry: first };
}

/** Opens the breaker and lets its timeout pass: the next permit is the period's first probe. */
function openAndWait(b: (i: number) => CircuitBreaker, clock: FakeClock, timeoutMs: number): void {
  b(0).forceOpen();
  clock.advance(timeoutMs);
}

describe.each(SETUPS)('probe lease (%s)', (_label, backends) => {
  it('a probe never recorded: the lease reopens the breaker, with a fresh timeout, and new probes follow', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 100, successThreshold: 1, probeLeaseMs: 500 });
    openAndWait(b, clock, 100);
    expect(b(0).tryAcquire()).toBe(true); // the only probe, never recorded
    clock.advance(500);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('HalfOpen'); // the period is stamped a tick late: never early
    clock.advance(1);
    expect(b(1).tryAcquire()).toBe(false); // this caller notices the expiry: reopened, refused
    expect(b(0).metrics()).toMatchObject({ current_state: 'Open', times_opened: 2, rejected_calls: 2, total_calls: 0 });
    clock.advance(99);
    expect(b(0).tryAcquire()).toBe(false);
    clock.advance(2); // the reopening was stamped a tick late (never early)
    expect(b(0).tryAcquire()).toBe(true);
    b(1).recordSuccess(5);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', times_opened: 2, success_count: 1 });
  });

  it('only a period with a probe out expires: successes recorded in time keep it', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 3, probeLeaseMs: 50 });
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    b(1).recordSuccess(1);
    clock.advance(1000); // no probe out: nothing to expire
    expect(b(1).tryAcquire()).toBe(true);
    expect(b(0).state).toBe('HalfOpen');
    b(0).recordSuccess(1);
    expect(b(1).tryAcquire()).toBe(true);
    b(1).recordSuccess(1);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', times_opened: 1 });
  });

  it('the lease runs from the period\'s first probe, whichever probe is still out', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 2, probeLeaseMs: 50 });
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true); // first probe: the period's stamp (tick + 1)
    clock.advance(40);
    expect(b(1).tryAcquire()).toBe(true); // second probe, 40 ms into the period
    b(0).recordSuccess(1);
    clock.advance(10);
    expect(b(0).tryAcquire()).toBe(false); // all slots taken, 50 ms since the start: 1 tick short
    expect(b(0).state).toBe('HalfOpen');
    clock.advance(1);
    expect(b(0).tryAcquire()).toBe(false);
    expect(b(1).metrics()).toMatchObject({ current_state: 'Open', times_opened: 2, half_open_calls: 0 });
  });

  it('a fresh half-open period is never expired by its predecessor\'s lease', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 5, successThreshold: 1, probeLeaseMs: 20 });
    openAndWait(b, clock, 5);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(21);
    expect(b(1).tryAcquire()).toBe(false); // expired: reopened
    clock.advance(6);
    expect(b(1).tryAcquire()).toBe(true); // a new period, 27 ms after the first began
    clock.advance(19);
    expect(b(0).tryAcquire()).toBe(false); // its own lease is not over
    expect(b(0).state).toBe('HalfOpen');
    expect(b(0).metrics().times_opened).toBe(2);
  });

  it('many breaker objects noticing one expiry reopen it exactly once', () => {
    const { b, all, clock } = breakers([...backends, ...backends, ...backends], { timeoutMs: 10, successThreshold: 1, probeLeaseMs: 30 });
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(31);
    for (let round = 0; round < 3; round++) for (const x of all) expect(x.tryAcquire()).toBe(false);
    expect(b(0).metrics()).toMatchObject({ times_opened: 2, rejected_calls: 3 * all.length, current_state: 'Open' });
  });

  it('lease units: a lease of an hour is never early, and late by at most its rounding to 4096 ms units plus two units', () => {
    const hour = 3_600_000;
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 1, probeLeaseMs: hour }, new FakeClock(7_777_777));
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(hour - 1);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('HalfOpen');
    // 3,600,000 ms is 879 units of 4096 ms (3,600,384 ms), counted from a stamp at most
    // two units after the probe's (rounded up, and past the unit of the opening).
    clock.advance(1 + 384 + 2 * 4096);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('Open');
  });

  it('a thread whose clock reads a little behind the period\'s start does not expire it', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 1, probeLeaseMs: 20 });
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(-500); // another thread's reading, behind: a negative elapsed, not 2^18 units
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('HalfOpen');
    clock.advance(521);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('Open');
  });

  it('documented wrap-around: untouched for a whole cycle of 2^18 units, a lease reads young for one lease', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 1, probeLeaseMs: 20 });
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(2 ** 18 + 5); // 1 ms units: the stamp's cycle is 262,144 ms
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('HalfOpen');
    clock.advance(20);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('Open');
  });

  it('works across the wrap-around of the 30-bit tick', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 1, probeLeaseMs: 100 }, new FakeClock(2 ** 30 - 60));
    openAndWait(b, clock, 10);
    expect(b(0).tryAcquire()).toBe(true);
    clock.advance(100);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('HalfOpen');
    clock.advance(1);
    expect(b(1).tryAcquire()).toBe(false);
    expect(b(1).state).toBe('Open');
  });
});

describe.each(SETUPS)('a HalfOpen word written by something else (%s)', (_label, backends) => {
  // Every slot claimed, nothing recorded, any stamp: before the lease this wedged the
  // breaker for good. Now the stamp's elapsed time reaches the lease within
  // probeLeaseMs + (1024 >> s) + 3 units whatever the stamp, and the breaker recovers.
  for (const stamp of [0, 1, 0x3ffff, 0x3fc00, 12345]) {
    it(`stamp ${stamp}: refuses, then the lease reopens it and probes follow`, () => {
      const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 2, probeLeaseMs: 20 });
      setRawWord(b(0), (stamp << 14) | (63 << 2) | 2);
      let opened = false;
      for (let ms = 0; ms <= 20 + 1027 && !opened; ms++) {
        expect(b(ms).tryAcquire()).toBe(false);
        opened = b(0).state === 'Open';
        clock.advance(1);
      }
      expect(opened).toBe(true);
      clock.advance(11);
      expect(b(1).tryAcquire()).toBe(true);
      b(1).recordSuccess(1);
      expect(b(0).tryAcquire()).toBe(true);
      b(0).recordSuccess(1);
      expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', times_opened: 1 });
    });
  }
});

describe.each(SETUPS)('permits and late records (%s)', (_label, backends) => {
  it('a probe recorded after its lease ran out is counted and changes nothing in the next period', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 1, probeLeaseMs: 20 });
    openAndWait(b, clock, 10);
    const lost = b(0).acquirePermit();
    expect(lost).toBeGreaterThan(1);
    clock.advance(21);
    expect(b(1).acquirePermit()).toBe(0); // expired: reopened
    clock.advance(11);
    const fresh = b(1).acquirePermit();
    expect(fresh).toBeGreaterThan(1);
    expect(fresh).not.toBe(lost);
    const word = rawWord(b(0));
    b(0).recordFailure(7, lost); // late: must not reopen the new period
    b(1).recordSuccess(7, lost); // late: must not close it either
    expect(rawWord(b(0))).toBe(word);
    expect(b(0).metrics()).toMatchObject({ current_state: 'HalfOpen', total_calls: 2, failure_count: 1, success_count: 1, times_opened: 2 });
    b(1).recordSuccess(7, fresh);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', total_calls: 3 });
  });

  it('a late probe result in Closed neither resets nor adds consecutive failures', () => {
    const { b, clock } = breakers(backends, { failureThreshold: 3, timeoutMs: 10, successThreshold: 1, probeLeaseMs: 1000 });
    openAndWait(b, clock, 10);
    const p1 = b(0).acquirePermit();
    b(1).recordSuccess(1, p1); // closes
    b(0).recordFailure(1, b(0).acquirePermit());
    b(1).recordFailure(1, b(1).acquirePermit());
    expect(b(0).metrics().consecutive_failures).toBe(2);
    b(0).recordSuccess(1, p1); // the same probe permit again: its period is over
    b(1).recordFailure(1, p1);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', consecutive_failures: 2, total_calls: 5 });
  });

  it('a call admitted while Closed and recorded after the breaker opened does not act on HalfOpen', () => {
    const { b, clock } = breakers(backends, { failureThreshold: 1, timeoutMs: 10, successThreshold: 1 });
    const slow = b(0).acquirePermit();
    expect(slow).toBe(1);
    b(1).recordFailure(1, b(1).acquirePermit()); // opens
    clock.advance(10);
    const probe = b(1).acquirePermit();
    b(0).recordSuccess(1, slow);
    expect(b(0).state).toBe('HalfOpen');
    b(0).recordFailure(1, slow);
    expect(b(0).state).toBe('HalfOpen');
    b(1).recordSuccess(1, probe);
    expect(b(0).metrics()).toMatchObject({ current_state: 'Closed', total_calls: 4, times_opened: 1 });
  });

  it('one probe permit recorded twice counts once for the state', () => {
    const { b, clock } = breakers(backends, { timeoutMs: 10, successThreshold: 2, probeLeaseMs: 1000 });
    openAndWait(b, clock, 10);
    const p = b(0).acquirePermit();
    b(0).recordSuccess(1, p);
    b(1).recordSuccess(1, p); // no probe out any more: late
    expect(b(0).metrics()).toMatchObject({ current_state: 'HalfOpen', half_open_calls: 1, success_count: 2 });
    b(1).recordSuccess(1, b(1).acquirePermit());
    expect(b(0).state).toBe('Closed');
  });

  it('records without a permit act on the state they find (the boolean guard)', () => {
    const { b, clock } = breakers(backends, { failureThreshold: 1, timeoutMs: 10, successThreshold: 1 });
    b(0).recordFailure(1);
    clock.advance(10);
    expect(b(1).tryAcquire()).toBe(true);
    b(0).recordSuccess(1);
    expect(b(1).state).toBe('Closed');
  });

  it('a bad permit throws InvalidOptionsError and records nothing', () => {
    const { b, clock, registry } = breakers(backends, { failureThreshold: 2, timeoutMs: 10, successThreshold: 1 });
    b(0).recordFailure(1);
    const before = [rawWord(b(0)), b(0).metricsBigInt(), registry.usage()];
    for (const bad of [0, 2, 4, -1, -3, 1.5, 3.5, 2 ** 20 + 3, NaN, Infinity, '3', null, {}, 3n]) {
      for (const record of [(p: unknown) => b(0).recordSuccess(1, p as number), (p: unknown) => b(1).recordFailure(1, p as number)]) {
        let caught: unknown;
        try {
          record(bad);
        } catch (e) {
          caught = e;
        }
        expect(caught, String(bad)).toBeInstanceOf(InvalidOptionsError);
        expect(caught).toBeInstanceOf(AtomicStatsError);
        expect((caught as InvalidOptionsError).code).toBe('ERR_INVALID_OPTIONS');
        expect((caught as InvalidOptionsError).option).toBe('permit');
        expect([rawWord(b(0)), b(0).metricsBigInt(), registry.usage()]).toEqual(before);
      }
    }
    clock.advance(1);
  });
});

describe.each(SETUPS)('a clock that misbehaves (%s)', (_label, backends) => {
  for (const [what, bad] of [
    ['NaN', () => NaN],
    ['Infinity', () => Infinity],
    ['-Infinity', () => -Infinity],
    ['a string', () => '5' as unknown as number],
    ['a throw', () => {
      throw new Error('clock broke');
    }],
  ] as [string, () => number][]) {
    it(`${what}: reads as the last good reading, so every permit is recorded and nothing throws`, () => {
      let good = true;
      const clock = new FakeClock();
      const read = () => (good ? clock.now : bad());
      const first = StatsRegistry.create({ backend: backends[0], capacityBytes: 1 << 20 });
      const registries = [first, ...backends.slice(1).map((backend) => StatsRegistry.attach(first.handle, { backend }))];
      const config = { failureThreshold: 1, timeoutMs: 10, successThreshold: 1, probeLeaseMs: 20, failureRateThreshold: 0.5, minimumCalls: 2, windowMs: 1000 };
      const bs = registries.map((r) => r.circuitBreaker('bad-clock', config, { clock: read }));
      const b = (i: number) => bs[i % bs.length]!;
      b(0).recordSuccess(1); // with the rate window on, a record reads the clock: a good reading
      good = false;
      b(0).recordFailure(1); // opens, stamped with the last good reading
      expect(b(1).metrics()).toMatchObject({ total_calls: 2, current_state: 'Open' });
      expect(b(0).tryAcquire()).toBe(false); // no time passes for this thread
      clock.advance(10);
      expect(b(0).tryAcquire()).toBe(false);
      good = true;
      const probe = b(0).acquirePermit();
      expect(probe).toBeGreaterThan(1);
      good = false;
      clock.advance(100);
      expect(b(0).tryAcquire()).toBe(false); // the lease sees no time pass either...
      expect(b(0).state).toBe('HalfOpen');
      b(0).recordSuccess(1, probe); // ...and the probe's result is still recorded
      b(0).forceOpen();
      b(0).forceClosed();
      expect(b(0).metrics()).toMatchObject({ total_calls: 3, success_count: 2, current_state: 'Closed', times_opened: 2 });
    });
  }
});

describe('probeLeaseMs validation', () => {
  for (const bad of [0, 3_600_001, 1.5, -1, '500', NaN, Infinity, null, true]) {
    it(`probeLeaseMs ${String(bad)}: InvalidOptionsError, nothing created`, () => {
      const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
      const before = registry.usage();
      let caught: unknown;
      try {
        registry.circuitBreaker('x', { probeLeaseMs: bad as number });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(InvalidOptionsError);
      expect((caught as InvalidOptionsError).option).toBe('probeLeaseMs');
      expect(registry.entries()).toEqual([]);
      expect(registry.usage()).toEqual(before);
    });
  }

  it('the lease is part of the config: another lease under one name is a NameConflictError', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    registry.circuitBreaker('x', { probeLeaseMs: 1000 });
    expect(() => registry.circuitBreaker('x', { probeLeaseMs: 2000 })).toThrow(expect.objectContaining({ code: 'ERR_NAME_CONFLICT' }));
    expect(registry.circuitBreaker('x', { probeLeaseMs: 1000 }).config.probeLeaseMs).toBe(1000);
    expect(registry.circuitBreaker('y').config.probeLeaseMs).toBe(60_000);
  });
});
