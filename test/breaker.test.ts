import { describe, expect, it } from 'vitest';
import {
  AtomicStatsError,
  CircuitBreakerConfig,
  CircuitOpenError,
  CircuitState,
  InvalidCountError,
  InvalidOptionsError,
  NameConflictError,
  StatsRegistry,
  UnsafeIntegerError,
  type CircuitBreaker,
  type StateChange,
} from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock, breakerOn, nextEvent, rawWord, setRawWord } from './helpers/breaker.js';

const DTO_KEYS = [
  'total_calls',
  'success_count',
  'failure_count',
  'consecutive_failures',
  'half_open_calls',
  'total_duration_nanos',
  'current_state',
  'failure_rate',
  'success_rate',
  'average_duration_nanos',
  'rejected_calls',
  'times_opened',
  'window_calls',
  'window_failures',
  'timeout_calls',
  'fallback_calls',
  'aborted_calls',
  'disabled',
].sort();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)('CircuitBreaker (%s backend)', (backend) => {
  describe("the original's tests", () => {
    it('normal operation: starts Closed, a successful call runs and is counted', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 3, timeoutMs: 100, successThreshold: 2 });
      expect(breaker.state).toBe('Closed');
      expect(breaker.callSync(() => 'success')).toBe('success');
      await expect(breaker.call(() => 'success')).resolves.toBe('success');
      const m = breaker.metrics();
      expect(m.total_calls).toBe(2);
      expect(m.success_count).toBe(2);
      expect(m.failure_count).toBe(0);
    });

    it('opens after 2 failures with threshold 2, and the next call is rejected without running', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 2, timeoutMs: 100, successThreshold: 2 });
      const fail = async () => {
        throw new Error('error');
      };
      await expect(breaker.call(fail)).rejects.toThrow('error');
      expect(breaker.state).toBe('Closed');
      await expect(breaker.call(fail)).rejects.toThrow('error');
      expect(breaker.state).toBe('Open');

      let ran = false;
      const caught = await breaker
        .call(async () => {
          ran = true;
          return 'should not execute';
        })
        .catch((err: unknown) => err);
      expect(ran).toBe(false);
      expect(caught).toBeInstanceOf(CircuitOpenError);
      expect((caught as CircuitOpenError).breakerName).toBe('test');
      expect(breaker.metrics()).toMatchObject({ total_calls: 2, failure_count: 2, rejected_calls: 1, times_opened: 1, consecutive_failures: 2 });
    });

    it('recovers with thresholds 1/1 and a 50 ms timeout (fake clock)', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 50, successThreshold: 1 });
      await expect(breaker.call(async () => Promise.reject(new Error('error')))).rejects.toThrow('error');
      expect(breaker.state).toBe('Open');
      clock.advance(49);
      expect(breaker.tryAcquire()).toBe(false);
      clock.advance(1);
      await expect(breaker.call(async () => 'success')).resolves.toBe('success');
      expect(breaker.state).toBe('Closed');
    });

    it('recovers with thresholds 1/1 and a 50 ms timeout (real clock)', async () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      const breaker = registry.circuitBreaker('real', { failureThreshold: 1, timeoutMs: 50, successThreshold: 1 });
      breaker.recordFailure(1);
      const opened = performance.now();
      expect(breaker.state).toBe('Open');
      // Wait on the clock itself (not on the timer's accuracy): at least 52 ms covers the
      // 1 ms rounding of the stamp and of the comparison.
      while (performance.now() - opened < 52) await sleep(10);
      await expect(breaker.call(async () => 'success')).resolves.toBe('success');
      expect(breaker.state).toBe('Closed');
    });

    it('force open / force closed', () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 1000, successThreshold: 1 });
      breaker.forceOpen();
      expect(breaker.state).toBe('Open');
      expect(breaker.tryAcquire()).toBe(false);
      breaker.forceClosed();
      expect(breaker.state).toBe('Closed');
      expect(breaker.tryAcquire()).toBe(true);
    });

    it('trait conformance: guard, manual records, health, force', () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 3, timeoutMs: 100, successThreshold: 2 });
      expect(breaker.name).toBe('test');
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.isHealthy()).toBe(true);
      breaker.recordSuccess(5_000_000);
      expect(breaker.metrics().success_count).toBe(1);
      breaker.recordFailure(5_000_000);
      expect(breaker.metrics().failure_count).toBe(1);
      breaker.forceOpen();
      expect(breaker.state).toBe('Open');
      expect(breaker.isHealthy()).toBe(false);
      breaker.forceClosed();
      expect(breaker.state).toBe('Closed');
    });
  });

  describe('state machine', () => {
    it('a success while Closed resets the consecutive failures', () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 3 });
      breaker.recordFailure(1);
      breaker.recordFailure(1);
      expect(breaker.metrics().consecutive_failures).toBe(2);
      breaker.recordSuccess(1);
      expect(breaker.metrics().consecutive_failures).toBe(0);
      breaker.recordFailure(1);
      breaker.recordFailure(1);
      expect(breaker.state).toBe('Closed');
      breaker.recordFailure(1);
      expect(breaker.state).toBe('Open');
      expect(breaker.metrics().consecutive_failures).toBe(3);
    });

    it('half-open admits successThreshold probes, counts successes, closes at the threshold', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 10, successThreshold: 3 });
      breaker.recordFailure(0);
      clock.advance(10);
      expect([breaker.tryAcquire(), breaker.tryAcquire(), breaker.tryAcquire()]).toEqual([true, true, true]);
      expect(breaker.state).toBe('HalfOpen');
      expect(breaker.tryAcquire()).toBe(false);
      expect(breaker.metrics().rejected_calls).toBe(1);
      breaker.recordSuccess(1);
      // Succeeded probes still hold their slot: no new probe until the period ends.
      expect(breaker.tryAcquire()).toBe(false);
      expect(breaker.metrics().half_open_calls).toBe(1);
      breaker.recordSuccess(1);
      expect(breaker.metrics()).toMatchObject({ half_open_calls: 2, current_state: 'HalfOpen' });
      breaker.recordSuccess(1);
      expect(breaker.metrics()).toMatchObject({ half_open_calls: 0, current_state: 'Closed', consecutive_failures: 0 });
    });

    it('a failure while HalfOpen reopens it at once, with a fresh timeout', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 2, timeoutMs: 10, successThreshold: 2 });
      breaker.recordFailure(0);
      breaker.recordFailure(0);
      clock.advance(15);
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordSuccess(0);
      expect(breaker.metrics().half_open_calls).toBe(1);
      breaker.recordFailure(0);
      expect(breaker.metrics()).toMatchObject({ current_state: 'Open', half_open_calls: 0, times_opened: 2, consecutive_failures: 2 });
      clock.advance(9);
      expect(breaker.tryAcquire()).toBe(false);
      clock.advance(1);
      expect(breaker.tryAcquire()).toBe(true);
    });

    it('forceOpen restarts the open period; it counts as an opening only from another state', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 5, timeoutMs: 50, successThreshold: 1 });
      breaker.recordFailure(0);
      breaker.forceOpen();
      expect(breaker.metrics()).toMatchObject({ times_opened: 1, consecutive_failures: 1 });
      clock.advance(40);
      breaker.forceOpen();
      expect(breaker.metrics().times_opened).toBe(1);
      clock.advance(40);
      expect(breaker.tryAcquire()).toBe(false);
      clock.advance(10);
      expect(breaker.tryAcquire()).toBe(true);
      breaker.forceOpen(); // from HalfOpen
      expect(breaker.metrics()).toMatchObject({ times_opened: 2, current_state: 'Open' });
      breaker.forceClosed();
      expect(breaker.metrics()).toMatchObject({ current_state: 'Closed', consecutive_failures: 0, half_open_calls: 0 });
    });

    it('a success recorded while Open changes nothing but the counters', () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1, successThreshold: 1 });
      breaker.recordFailure(0);
      breaker.recordSuccess(3);
      expect(breaker.metrics()).toMatchObject({ current_state: 'Open', success_count: 1, total_calls: 2 });
    });

    it('fractional milliseconds never admit a probe early', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 10, successThreshold: 1 }, new FakeClock(100.4));
      breaker.recordFailure(0); // opened at 100.4
      clock.now = 110.3; // 9.9 ms later
      expect(breaker.tryAcquire()).toBe(false);
      clock.now = 111.0;
      expect(breaker.tryAcquire()).toBe(true);
    });
  });

  describe('metrics', () => {
    it('has exactly the snake_case keys, serializes to JSON, and starts at zero', () => {
      const { breaker } = breakerOn(backend);
      const m = breaker.metrics();
      expect(Object.keys(m).sort()).toEqual(DTO_KEYS);
      expect(Object.keys(breaker.metricsBigInt()).sort()).toEqual(DTO_KEYS);
      expect(JSON.parse(JSON.stringify(m))).toEqual(m);
      expect(m).toEqual({
        total_calls: 0,
        success_count: 0,
        failure_count: 0,
        consecutive_failures: 0,
        half_open_calls: 0,
        total_duration_nanos: 0,
        current_state: 'Closed',
        failure_rate: 0,
        success_rate: 0,
        average_duration_nanos: 0,
        rejected_calls: 0,
        times_opened: 0,
        window_calls: 0,
        window_failures: 0,
        timeout_calls: 0,
        fallback_calls: 0,
        aborted_calls: 0,
        disabled: false,
      });
    });

    it('rates, and the average over all calls (not successes only)', () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 10 });
      breaker.recordSuccess(100);
      breaker.recordSuccess(200);
      breaker.recordFailure(0);
      breaker.recordFailure(1);
      const m = breaker.metrics();
      expect(m.total_duration_nanos).toBe(301);
      expect(m.average_duration_nanos).toBe(75); // floor(301 / 4)
      expect(m.failure_rate).toBe(0.5);
      expect(m.success_rate).toBe(0.5);
    });

    it('truncates fractional nanoseconds', () => {
      const { breaker } = breakerOn(backend);
      breaker.recordSuccess(1.9);
      breaker.recordFailure(2.5);
      expect(breaker.metrics().total_duration_nanos).toBe(3);
    });

    it('number snapshot throws UnsafeIntegerError above 2^53 - 1; the BigInt snapshot is exact and wraps at 2^64', () => {
      const { breaker } = breakerOn(backend);
      breaker.recordSuccess(2 ** 53);
      expect(breaker.metricsBigInt().total_duration_nanos).toBe(2n ** 53n);
      let err: unknown;
      try {
        breaker.metrics();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsafeIntegerError);
      expect((err as UnsafeIntegerError).field).toBe('total_duration_nanos');
      expect((err as Error).message).toContain('"test"');
      const big = 2 ** 64 - 2 ** 11; // the largest double below 2^64
      breaker.recordSuccess(big);
      breaker.recordSuccess(big);
      const expected = (2n ** 53n + 2n * BigInt(big)) % 2n ** 64n;
      expect(breaker.metricsBigInt().total_duration_nanos).toBe(expected);
      expect(breaker.metricsBigInt().average_duration_nanos).toBe(expected / 3n);
    });

    it('counts exactly through the shared stripe too (an attachment without a stripe of its own)', () => {
      const registry = StatsRegistry.create({ backend, stripes: 1, capacityBytes: 1 << 20 });
      const other = StatsRegistry.attach(registry.handle, { backend });
      expect(other.slot).toBe(1); // beyond the single stripe: adds to the shared cells
      const a = registry.circuitBreaker('s', { failureThreshold: 100 });
      const b = other.circuitBreaker('s', { failureThreshold: 100 });
      a.recordSuccess(2 ** 40);
      b.recordSuccess(2 ** 40 + 5);
      b.recordFailure(3);
      a.recordFailure(2 ** 33);
      expect(b.tryAcquire()).toBe(true);
      const m = a.metricsBigInt();
      expect(m).toMatchObject({ total_calls: 4n, success_count: 2n, failure_count: 2n, consecutive_failures: 2n });
      expect(m.total_duration_nanos).toBe(2n ** 41n + 5n + 3n + 2n ** 33n);
      expect(b.metricsBigInt()).toEqual(m);
    });
  });

  describe('health', () => {
    // With the rate policy on, the window is judged (a rate that never trips it here);
    // more in breaker-health.test.ts.
    const windowed = { failureThreshold: 100, failureRateThreshold: 1, minimumCalls: 1000, windowMs: 60_000 };

    it('healthy while Closed with fewer than 10 calls in the rate window, whatever they were', () => {
      const { breaker } = breakerOn(backend, windowed);
      for (let i = 0; i < 9; i++) breaker.recordFailure(1);
      expect(breaker.isHealthy()).toBe(true);
      breaker.recordFailure(1);
      expect(breaker.isHealthy()).toBe(false);
    });

    it('needs a failure rate in the window strictly below 10%', () => {
      const { breaker } = breakerOn(backend, windowed);
      breaker.recordFailure(1);
      for (let i = 0; i < 9; i++) breaker.recordSuccess(1);
      expect(breaker.isHealthy()).toBe(false); // 1 / 10
      breaker.recordSuccess(1);
      expect(breaker.isHealthy()).toBe(true); // 1 / 11
    });

    it('is never healthy while Open or HalfOpen', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 5 });
      breaker.recordFailure(1);
      expect(breaker.isHealthy()).toBe(false);
      clock.advance(5);
      breaker.tryAcquire();
      expect(breaker.state).toBe('HalfOpen');
      expect(breaker.isHealthy()).toBe(false);
    });
  });

  describe('call and callSync (more in breaker-call.test.ts)', () => {
    it('callSync: value, throw and duration are handled before it returns', () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 5 });
      const r = breaker.callSync(() => {
        clock.advance(3);
        return 42;
      });
      expect(r).toBe(42);
      const boom = new Error('boom');
      expect(() =>
        breaker.callSync(() => {
          clock.advance(2);
          throw boom;
        }),
      ).toThrow(boom);
      expect(breaker.metrics()).toMatchObject({ total_calls: 2, success_count: 1, failure_count: 1, total_duration_nanos: 5_000_000 });
    });

    it('an async function: the result is recorded when it settles', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 5 });
      let resolve!: (v: string) => void;
      const p = breaker.call(() => new Promise<string>((r) => (resolve = r)));
      expect(p).toBeInstanceOf(Promise);
      expect(breaker.metrics().total_calls).toBe(0);
      clock.advance(7);
      resolve('done');
      await expect(p).resolves.toBe('done');
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, success_count: 1, total_duration_nanos: 7_000_000 });
      const err = new Error('nope');
      await expect(breaker.call(async () => Promise.reject(err))).rejects.toBe(err);
      expect(breaker.metrics()).toMatchObject({ total_calls: 2, failure_count: 1 });
    });

    it('a native promise comes back as is, recorded before the caller resumes', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 5 });
      const original = Promise.resolve(1);
      const p = breaker.call(() => original);
      expect(p).toBe(original);
      clock.advance(4);
      await p;
      // Our reaction was attached first, so the success is already recorded here.
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, success_count: 1, total_duration_nanos: 4_000_000 });
      const failing = Promise.reject(new Error('x'));
      const q = breaker.call(() => failing);
      expect(q).toBe(failing);
      await expect(q).rejects.toThrow('x');
      expect(breaker.metrics()).toMatchObject({ total_calls: 2, failure_count: 1 });
    });

    it('any other thenable has its then called exactly once', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 5 });
      let thenCalls = 0;
      const lazy = {
        then(onOk: (v: number) => unknown, onErr: (e: unknown) => unknown) {
          thenCalls++; // like a query builder: every then() would run the query again
          return Promise.resolve(9).then(onOk, onErr);
        },
      };
      const p = breaker.call(() => lazy as unknown as Promise<number>);
      await expect(p).resolves.toBe(9);
      expect(thenCalls).toBe(1);
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, success_count: 1 });
    });

    it('refusal: call rejects (never throws), callSync throws; neither runs fn', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1 });
      breaker.recordFailure(0);
      let runs = 0;
      const fn = async () => {
        runs++;
      };
      let p: Promise<unknown> | undefined;
      expect(() => (p = breaker.call(fn))).not.toThrow();
      expect(p).toBeInstanceOf(Promise);
      const err = await p!.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CircuitOpenError);
      expect(err).toBeInstanceOf(AtomicStatsError);
      expect((err as CircuitOpenError).code).toBe('ERR_CIRCUIT_OPEN');
      expect((err as CircuitOpenError).state).toBe('Open');
      expect((err as Error).message).toContain('"test"');
      expect(() => breaker.callSync(() => runs++)).toThrow(CircuitOpenError);
      expect(runs).toBe(0);
      expect(breaker.metrics().rejected_calls).toBe(2);
    });

    it('call turns a synchronous throw into a rejection and records it', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 5 });
      const err = new Error('sync');
      await expect(
        breaker.call(() => {
          throw err;
        }),
      ).rejects.toBe(err);
      await expect(breaker.call(() => 5)).resolves.toBe(5);
      expect(breaker.metrics()).toMatchObject({ failure_count: 1, success_count: 1 });
    });

    it('a HalfOpen rejection names the state', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 5, successThreshold: 1 });
      breaker.recordFailure(0);
      clock.advance(5);
      expect(breaker.tryAcquire()).toBe(true);
      const err = await breaker.call(() => 1).catch((e: unknown) => e);
      expect((err as CircuitOpenError).state).toBe('HalfOpen');
      expect(() => breaker.callSync(() => 1)).toThrow(expect.objectContaining({ state: 'HalfOpen' }) as never);
    });

    it('rejects a non-function with InvalidOptionsError (call: a rejected promise)', async () => {
      const { breaker } = breakerOn(backend);
      await expect(breaker.call(42 as unknown as () => number)).rejects.toThrow(InvalidOptionsError);
      expect(() => breaker.callSync(42 as unknown as () => number)).toThrow(InvalidOptionsError);
      expect(breaker.metrics().total_calls).toBe(0);
    });
  });

  describe('bad input changes nothing', () => {
    const BAD: unknown[] = [-1, -0.5, NaN, Infinity, -Infinity, 2 ** 64, '5', null, undefined, {}, 5n];

    function prepare(kind: 'Closed' | 'Open' | 'HalfOpen'): CircuitBreaker {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 3, timeoutMs: 10, successThreshold: 3 });
      breaker.recordFailure(11);
      if (kind !== 'Closed') {
        breaker.recordFailure(1);
        breaker.recordFailure(1);
      }
      if (kind === 'HalfOpen') {
        clock.advance(10);
        breaker.tryAcquire();
        breaker.recordSuccess(4);
        breaker.tryAcquire();
      }
      expect(breaker.state).toBe(kind);
      return breaker;
    }

    for (const kind of ['Closed', 'Open', 'HalfOpen'] as const) {
      it(`negative, non-finite and non-number durations throw InvalidCountError (${kind})`, () => {
        const breaker = prepare(kind);
        const word = rawWord(breaker);
        const before = breaker.metricsBigInt();
        for (const d of BAD) {
          expect(() => breaker.recordSuccess(d as number)).toThrow(InvalidCountError);
          expect(() => breaker.recordFailure(d as number)).toThrow(InvalidCountError);
          expect(rawWord(breaker)).toBe(word);
          expect(breaker.metricsBigInt()).toEqual(before);
        }
      });
    }

    it('a clock returning garbage reads as its last good reading: every record is kept', () => {
      let t = 0;
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      const breaker = registry.circuitBreaker('c', { failureThreshold: 1, timeoutMs: 10 }, { clock: () => t });
      expect(breaker.tryAcquire()).toBe(true);
      t = NaN;
      breaker.recordFailure(1); // opens, stamped at the last good reading (0)
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, current_state: 'Open', times_opened: 1 });
      t = Infinity;
      expect(breaker.tryAcquire()).toBe(false); // still 0 for this thread: no time passed
      t = 10;
      expect(breaker.tryAcquire()).toBe(true);
      expect(breaker.metrics()).toMatchObject({ rejected_calls: 1, current_state: 'HalfOpen' });
    });
  });

  describe('unknown state values read as Open', () => {
    for (const word of [3, 7, 99, 1023, 0x7fffffff, -1]) {
      it(`word ${word}`, () => {
        const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 20, successThreshold: 1 });
        setRawWord(breaker, word);
        expect(breaker.state).toBe('Open');
        expect(breaker.metrics().current_state).toBe('Open');
        expect(breaker.isHealthy()).toBe(false);
        breaker.recordSuccess(1);
        breaker.recordFailure(1);
        expect(breaker.state).toBe('Open');
        expect(breaker.tryAcquire()).toBe(false);
        expect(breaker.metrics()).toMatchObject({ rejected_calls: 1, times_opened: 0, total_calls: 2 });
        // It recovers like any Open breaker: a probe once the timeout has passed.
        clock.advance(19);
        expect(breaker.tryAcquire()).toBe(false);
        clock.advance(1);
        expect(breaker.tryAcquire()).toBe(true);
        expect(breaker.state).toBe('HalfOpen');
      });
    }

    it('forceClosed recovers from an unknown value', () => {
      const { breaker } = breakerOn(backend);
      setRawWord(breaker, 0x7fffffff);
      breaker.forceClosed();
      expect(breaker.state).toBe('Closed');
      expect(breaker.tryAcquire()).toBe(true);
    });
  });

  describe('registry', () => {
    it('same name, same config: the same breaker; defaults equal explicit defaults', () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      const a = registry.circuitBreaker('db');
      expect(registry.circuitBreaker('db', { failureThreshold: 5, timeoutMs: 30_000, successThreshold: 2 })).toBe(a);
      expect(registry.circuitBreaker('db', CircuitBreakerConfig.forDatabase())).toBe(a);
      expect(registry.entries()).toEqual([
        { name: 'db', kind: 'circuitBreaker', descriptor: { ...CircuitBreakerConfig.defaults() } },
      ]);
    });

    it('same name with another config, or another kind: NameConflictError, nothing created', () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      registry.circuitBreaker('db', CircuitBreakerConfig.forDatabase());
      expect(() => registry.circuitBreaker('db', CircuitBreakerConfig.forQueue())).toThrow(NameConflictError);
      const other = StatsRegistry.attach(registry.handle, { backend });
      expect(() => other.circuitBreaker('db', { timeoutMs: 1 })).toThrow(NameConflictError);
      registry.counters('c', ['a']);
      expect(() => registry.circuitBreaker('c')).toThrow(NameConflictError);
      expect(() => registry.counters('db', ['a'])).toThrow(NameConflictError);
      expect(registry.entries().map((e) => e.name).sort()).toEqual(['c', 'db']);
    });

    it('bad names and options are typed errors', () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      expect(() => registry.circuitBreaker('')).toThrow(InvalidOptionsError);
      expect(() => registry.circuitBreaker(5 as unknown as string)).toThrow(InvalidOptionsError);
      expect(() => registry.circuitBreaker('x', undefined, { clock: 5 as unknown as () => number })).toThrow(InvalidOptionsError);
      expect(() => registry.circuitBreaker('x', undefined, { tick: 1 } as never)).toThrow(InvalidOptionsError);
      expect(registry.entries()).toEqual([]);
    });
  });

  describe('state-change notification (same thread)', () => {
    it('reports each change, never the current state on subscribing, and stops when unsubscribed', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 1, timeoutMs: 5, successThreshold: 1 });
      const seen: StateChange[] = [];
      const off = breaker.onStateChange((c) => seen.push(c));
      let next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      breaker.recordFailure(1);
      expect(await next).toEqual({ state: 'Open', previous: 'Closed' });
      next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      clock.advance(5);
      expect(breaker.tryAcquire()).toBe(true);
      expect(await next).toEqual({ state: 'HalfOpen', previous: 'Open' });
      next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      breaker.recordSuccess(1);
      expect(await next).toEqual({ state: 'Closed', previous: 'HalfOpen' });
      expect(seen).toEqual([
        { state: 'Open', previous: 'Closed' },
        { state: 'HalfOpen', previous: 'Open' },
        { state: 'Closed', previous: 'HalfOpen' },
      ]);
      off();
      next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      breaker.forceOpen();
      await next;
      expect(seen).toHaveLength(3);
    });

    it('as an async iterator, ended by break or by an AbortSignal', async () => {
      const { breaker } = breakerOn(backend);
      const got: string[] = [];
      const consumer = (async () => {
        for await (const c of breaker.stateChanges()) {
          got.push(c.state);
          if (got.length === 2) break;
        }
      })();
      let next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      breaker.forceOpen();
      await next;
      next = nextEvent<StateChange>((l) => breaker.onStateChange(l));
      breaker.forceClosed();
      await next;
      await consumer;
      expect(got).toEqual([CircuitState.Open, CircuitState.Closed]);

      const ac = new AbortController();
      const it = breaker.stateChanges({ signal: ac.signal });
      const pending = it.next();
      ac.abort();
      await expect(pending).resolves.toEqual({ value: undefined, done: true });
    });
  });
});

describe('CircuitBreakerConfig', () => {
  it('defaults and presets', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const more = { probeLeaseMs: 60_000, failureRateThreshold: null, minimumCalls: null, windowMs: null };
    expect(registry.circuitBreaker('d').config).toEqual({ failureThreshold: 5, timeoutMs: 30_000, successThreshold: 2, ...more });
    expect(CircuitBreakerConfig.defaults()).toEqual({ failureThreshold: 5, timeoutMs: 30_000, successThreshold: 2, ...more });
    expect(CircuitBreakerConfig.forDatabase()).toEqual({ failureThreshold: 5, timeoutMs: 30_000, successThreshold: 2, ...more });
    expect(CircuitBreakerConfig.forQueue()).toEqual({ failureThreshold: 3, timeoutMs: 15_000, successThreshold: 2, ...more });
    expect(CircuitBreakerConfig.forExternalApi()).toEqual({ failureThreshold: 5, timeoutMs: 45_000, successThreshold: 2, ...more });
    expect(CircuitBreakerConfig.forQueue({ timeoutMs: 1000 })).toEqual({ failureThreshold: 3, timeoutMs: 1000, successThreshold: 2, ...more });
  });

  const cases: [string, unknown][] = [
    ['failureThreshold', 0],
    ['failureThreshold', 101],
    ['failureThreshold', 2.5],
    ['failureThreshold', '5'],
    ['failureThreshold', NaN],
    ['timeoutMs', 0],
    ['timeoutMs', 300_001],
    ['timeoutMs', 0.5],
    ['timeoutMs', Infinity],
    ['successThreshold', 0],
    ['successThreshold', 51],
    ['successThreshold', -1],
    ['successThreshold', null],
  ];
  it.each(cases)('%s = %s is an InvalidOptionsError naming the field, and creates nothing', (field, value) => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    let err: unknown;
    try {
      registry.circuitBreaker('x', { [field]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as InvalidOptionsError).option).toBe(field);
    expect((err as Error).message).toContain(field);
    expect(registry.entries()).toEqual([]);
    expect(() => CircuitBreakerConfig.forDatabase({ [field]: value })).toThrow(InvalidOptionsError);
  });

  it('accepts the limits', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    expect(registry.circuitBreaker('lo', { failureThreshold: 1, timeoutMs: 1, successThreshold: 1 }).config.timeoutMs).toBe(1);
    expect(registry.circuitBreaker('hi', { failureThreshold: 100, timeoutMs: 300_000, successThreshold: 50 }).config.successThreshold).toBe(50);
  });

  it('unknown keys and non-objects are rejected', () => {
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    expect(() => registry.circuitBreaker('x', { failureThreshhold: 3 } as never)).toThrow(/failureThreshhold/);
    expect(() => registry.circuitBreaker('x', 5 as never)).toThrow(InvalidOptionsError);
    expect(() => registry.circuitBreaker('x', [] as never)).toThrow(InvalidOptionsError);
  });
});
