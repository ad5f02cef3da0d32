/*
 * call(fn, options) and callSync(fn): timeouts, the caller's AbortSignal, fallback, the
 * isFailure filter, hostile results, option validation, opening a breaker by name, and
 * the stateChanges option check. Every rejected call is checked to have changed nothing
 * (the state word and every counter as before).
 */
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  CallTimeoutError,
  CircuitBreakerConfig,
  CircuitOpenError,
  InvalidOptionsError,
  NameConflictError,
  CorruptRegistryError,
  StatsRegistry,
  type CallContext,
  type CircuitBreaker,
} from '../src/index.js';
import { KINDS } from '../src/kind-table.js';
import { deadlineQueues } from '../src/policy/timeout.js';
import { BACKENDS } from './helpers/backends.js';
import { FakeClock, breakerOn, rawWord } from './helpers/breaker.js';
import { captureWarnings } from './helpers/warnings.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const never = () => new Promise<never>(() => {});

/** Everything a rejected call must leave as it was. */
function stateOf(b: CircuitBreaker): unknown {
  return { word: rawWord(b), metrics: b.metricsBigInt() };
}

// `await`, not `p.then`: a promise fn returned comes back as is, own properties included.
async function settled<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true as const, value: await p };
  } catch (error) {
    return { ok: false as const, error };
  }
}

/** A breaker forced into HalfOpen with `probes` slots, the clock just past the timeout. */
function halfOpen(backend: (typeof BACKENDS)[number], successThreshold = 1, extra: Record<string, unknown> = {}) {
  const made = breakerOn(backend, { failureThreshold: 1, timeoutMs: 10, successThreshold, ...extra });
  made.breaker.forceOpen();
  made.clock.advance(10);
  return made;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(BACKENDS)('call / callSync (%s backend)', (backend) => {
  describe('fn gets { signal }', () => {
    it('a fresh, unaborted AbortSignal per call, also without options', async () => {
      const { breaker } = breakerOn(backend);
      const seen: AbortSignal[] = [];
      await breaker.call(({ signal }) => {
        seen.push(signal);
        return 1;
      });
      await breaker.call(async (ctx: CallContext) => {
        seen.push(ctx.signal);
      });
      expect(seen[0]).toBeInstanceOf(AbortSignal);
      expect(seen[0]!.aborted).toBe(false);
      expect(seen[1]).not.toBe(seen[0]);
      expect(breaker.metrics().success_count).toBe(2);
    });
  });

  it('fn’s argument reaches its signal and nothing of the call’s latch', async () => {
    const { breaker } = breakerOn(backend);
    const seen: Record<string, unknown>[] = [];
    const grab = (ctx: CallContext) => {
      seen.push(ctx as unknown as Record<string, unknown>);
      return 1;
    };
    await breaker.call(grab);
    await breaker.call(grab, { timeoutMs: 100, signal: new AbortController().signal, fallback: () => 0 });
    for (const ctx of seen) {
      for (const member of ['end', 'resolve', 'reject', 'settled', 'threw', 'arm', 'expire']) expect(ctx[member]).toBeUndefined();
      expect(ctx.signal).toBeInstanceOf(AbortSignal);
    }
  });

  describe('timeout', () => {
    it('rejects with CallTimeoutError, records exactly one failure, aborts fn’s signal; a late settle changes nothing', async () => {
      const { breaker, clock } = breakerOn(backend, { failureThreshold: 5 });
      let signal!: AbortSignal;
      let finish!: (v: string) => void;
      const p = breaker.call(
        (ctx) => {
          signal = ctx.signal;
          clock.advance(3);
          return new Promise<string>((r) => (finish = r));
        },
        { timeoutMs: 15 },
      );
      const r = await settled(p);
      expect(r.ok).toBe(false);
      const err = (r as { error: unknown }).error as CallTimeoutError;
      expect(err).toBeInstanceOf(CallTimeoutError);
      expect(err.code).toBe('ERR_CALL_TIMEOUT');
      expect(err.timeoutMs).toBe(15);
      expect(err.breakerName).toBe('test');
      expect(err.message).toContain('"test"');
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBe(err);
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, failure_count: 1, success_count: 0, consecutive_failures: 1, total_duration_nanos: 3_000_000 });
      finish('late');
      await sleep(1);
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, failure_count: 1, success_count: 0 });
    });

    it('a late rejection after the timeout is not recorded (and not unhandled)', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 5 });
      let fail!: (e: Error) => void;
      const p = breaker.call(() => new Promise((_, rej) => (fail = rej)), { timeoutMs: 5 });
      await expect(p).rejects.toBeInstanceOf(CallTimeoutError);
      fail(new Error('late'));
      await sleep(1);
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, failure_count: 1 });
    });

    it('config callTimeoutMs is the default; options.timeoutMs overrides it', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 5, callTimeoutMs: 5 });
      expect(breaker.config.callTimeoutMs).toBe(5);
      const e1 = await breaker.call(never).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(CallTimeoutError);
      expect((e1 as CallTimeoutError).timeoutMs).toBe(5);
      const e2 = await breaker.call(never, { timeoutMs: 7 }).catch((e: unknown) => e);
      expect((e2 as CallTimeoutError).timeoutMs).toBe(7);
      // A call that settles in time is unaffected.
      await expect(breaker.call(async () => 'ok')).resolves.toBe('ok');
      expect(breaker.metrics()).toMatchObject({ total_calls: 3, failure_count: 2, success_count: 1 });
    });

    it('no timeout at all when neither is set: the key is absent from the config and the descriptor', () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      const b = registry.circuitBreaker('plain', { failureThreshold: 3 });
      expect('callTimeoutMs' in b.config).toBe(false);
      registry.circuitBreaker('timed', { callTimeoutMs: 250 });
      expect(registry.entries().map((e) => [e.name, e.descriptor.callTimeoutMs]).sort()).toEqual([
        ['plain', undefined],
        ['timed', 250],
      ]);
      const spy = vi.spyOn(globalThis, 'setTimeout');
      void b.call(never);
      void b.call(async () => 1, { fallback: () => 2 });
      expect(spy).not.toHaveBeenCalled();
    });

    it('no timer per call: one unref’d timer per timeout length, armed once for calls that settle in time', async () => {
      const { breaker } = breakerOn(backend);
      const T = ({ auto: 59_021, wasm: 59_001, js: 59_011 } as const)[backend]; // a length no other test uses: its queue starts empty
      const timers: { hasRef(): boolean }[] = [];
      const real = globalThis.setTimeout;
      vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
        const t = real(fn, ms);
        timers.push(t);
        return t;
      }) as typeof setTimeout);
      for (let i = 0; i < 50; i++) await breaker.call(async () => i, { timeoutMs: T });
      await expect(breaker.call(async () => Promise.reject(new Error('x')), { timeoutMs: T })).rejects.toThrow('x');
      expect(timers).toHaveLength(1);
      expect(timers[0]!.hasRef()).toBe(false);
      // Settled calls dropped their deadlines: nothing is pending, one entry at most lingers.
      expect(deadlineQueues().get(T)).toEqual({ entries: 1, live: 0 });
    });

    it('settled calls behind a hung one do not pile up', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 100 });
      const T = ({ auto: 59_022, wasm: 59_002, js: 59_012 } as const)[backend];
      const hung = breaker.call(never, { timeoutMs: T });
      for (let i = 0; i < 2000; i++) await breaker.call(() => i, { timeoutMs: T });
      const q = deadlineQueues().get(T)!;
      expect(q.live).toBe(1);
      expect(q.entries).toBeLessThanOrEqual(2 * 1 + 64 + 1);
      void hung.catch(() => undefined);
    });

    it('several hung calls, several lengths, re-armed after each expiry, fallbacks starting timed calls', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 100 });
      const first = breaker.call(never, { timeoutMs: 8 });
      await sleep(3);
      const second = breaker.call(never, { timeoutMs: 8 });
      const other = breaker.call(never, { timeoutMs: 3 });
      // The fallback runs while the queue expires calls, and starts another timed call.
      let inner: Promise<unknown> | undefined;
      const withFallback = breaker.call(never, { timeoutMs: 8, fallback: () => (inner = breaker.call(never, { timeoutMs: 8 })) });
      const errors = await Promise.all([first, second, other, withFallback].map((p) => p.catch((e: unknown) => e)));
      // All four time out (the last one through its fallback's own call).
      expect(errors.every((e) => e instanceof CallTimeoutError)).toBe(true);
      expect(inner).toBeDefined();
      expect(breaker.metrics()).toMatchObject({ total_calls: 5, failure_count: 5 });
    });

    it('a pending timed call keeps no process alive', () => {
      const script = `
        import { StatsRegistry } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
        const b = StatsRegistry.create({ backend: '${backend}', capacityBytes: 1 << 20 }).circuitBreaker('x');
        b.call(() => new Promise(() => {}), { timeoutMs: 600000 }).catch(() => {});
      `;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.signal).toBe(null); // not killed by the 60 s guard: it exited by itself
      expect(r.status).toBe(0);
    });

    it('a timed-out half-open probe is a failed probe: the breaker reopens', async () => {
      const { breaker } = halfOpen(backend, 1);
      await expect(breaker.call(never, { timeoutMs: 5 })).rejects.toBeInstanceOf(CallTimeoutError);
      expect(breaker.metrics()).toMatchObject({ current_state: 'Open', failure_count: 1, times_opened: 2 });
    });

    it('a timeout counts as a failure whatever isFailure says', async () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      const b = registry.circuitBreaker('f', { failureThreshold: 5 }, { isFailure: () => false });
      await expect(b.call(never, { timeoutMs: 5 })).rejects.toBeInstanceOf(CallTimeoutError);
      expect(b.metrics()).toMatchObject({ failure_count: 1, success_count: 0 });
    });
  });

  describe('caller signal', () => {
    it('already aborted: rejects with the reason, fn not called, no permit asked (nothing changes, even when Open)', async () => {
      for (const open of [false, true]) {
        const { breaker } = breakerOn(backend, { failureThreshold: 1 });
        if (open) breaker.recordFailure(1);
        const before = stateOf(breaker);
        const ac = new AbortController();
        const reason = new Error('caller gave up');
        ac.abort(reason);
        let runs = 0;
        await expect(breaker.call(() => runs++, { signal: ac.signal })).rejects.toBe(reason);
        await expect(breaker.call(() => runs++, { signal: ac.signal, fallback: () => 'fb' })).rejects.toBe(reason);
        expect(runs).toBe(0);
        expect(stateOf(breaker)).toEqual(before);
      }
    });

    it('abort mid-call (Closed): rejects at once with the reason, aborts fn’s signal, records nothing; the late result is ignored', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1 });
      const before = stateOf(breaker);
      const ac = new AbortController();
      let inner!: AbortSignal;
      let finish!: (v: number) => void;
      const p = breaker.call(
        ({ signal }) => {
          inner = signal;
          return new Promise<number>((r) => (finish = r));
        },
        { signal: ac.signal, timeoutMs: 60_000, fallback: () => -1 },
      );
      const reason = new Error('stop');
      ac.abort(reason);
      await expect(p).rejects.toBe(reason);
      expect(inner.aborted).toBe(true);
      expect(inner.reason).toBe(reason);
      // Nothing recorded about the dependency; the abort itself is counted.
      const after = { word: (before as { word: number }).word, metrics: { ...(before as { metrics: object }).metrics, aborted_calls: 1n } };
      expect(stateOf(breaker)).toEqual(after);
      finish(1);
      await sleep(1);
      expect(stateOf(breaker)).toEqual(after);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    });

    it('abort without a reason rejects with an AbortError', async () => {
      const { breaker } = breakerOn(backend);
      const ac = new AbortController();
      const p = breaker.call(never, { signal: ac.signal });
      ac.abort();
      const err = await p.catch((e: unknown) => e);
      expect((err as Error).name).toBe('AbortError');
    });

    it('fn aborting the caller’s signal itself ends the call once', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 5 });
      const ac = new AbortController();
      const p = breaker.call(
        () => {
          ac.abort('inside');
          return 5;
        },
        { signal: ac.signal },
      );
      await expect(p).rejects.toBe('inside');
      expect(breaker.metrics().total_calls).toBe(0);
    });

    it('an aborted half-open probe is recorded once as a failed probe: no slot leaks', async () => {
      const { breaker, clock } = halfOpen(backend, 2, { failureThreshold: 3 });
      const ac = new AbortController();
      const p1 = breaker.call(never, { signal: ac.signal });
      const p2 = breaker.call(never, { signal: ac.signal });
      expect(breaker.state).toBe('HalfOpen');
      expect(breaker.tryAcquire()).toBe(false); // both slots held
      ac.abort(new Error('cancel'));
      await expect(p1).rejects.toThrow('cancel');
      await expect(p2).rejects.toThrow('cancel');
      expect(breaker.metrics()).toMatchObject({ current_state: 'Open', failure_count: 2, total_calls: 2, times_opened: 2 });
      clock.advance(10);
      await expect(breaker.call(async () => 'probe')).resolves.toBe('probe');
      await expect(breaker.call(async () => 'probe')).resolves.toBe('probe');
      expect(breaker.state).toBe('Closed');
    });

    it('the listener on the caller’s signal is removed when the call settles', async () => {
      const { breaker } = breakerOn(backend);
      const ac = new AbortController();
      await breaker.call(async () => 1, { signal: ac.signal });
      await breaker.call(() => 2, { signal: ac.signal });
      await breaker.call(() => Promise.reject(new Error('x')), { signal: ac.signal }).catch(() => undefined);
      await breaker.call(never, { signal: ac.signal, timeoutMs: 2 }).catch(() => undefined);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    });
  });

  describe('fallback', () => {
    it('supplies the result when refused, without calling fn', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1 });
      breaker.recordFailure(1);
      let got: unknown;
      let runs = 0;
      const r = await breaker.call(
        async () => {
          runs++;
          return 1;
        },
        {
          fallback: (e) => {
            got = e;
            return 'cached';
          },
        },
      );
      expect(r).toBe('cached');
      expect(runs).toBe(0);
      expect(got).toBeInstanceOf(CircuitOpenError);
      expect(breaker.metrics()).toMatchObject({ rejected_calls: 1, total_calls: 1 });
    });

    it('on a timeout and on a failure (still recorded), with sync and async fallbacks', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 10 });
      const errors: unknown[] = [];
      const fb = (e: unknown) => {
        errors.push(e);
        return Promise.resolve('fb');
      };
      await expect(breaker.call(never, { timeoutMs: 3, fallback: fb })).resolves.toBe('fb');
      const boom = new Error('boom');
      await expect(breaker.call(() => Promise.reject(boom), { fallback: fb })).resolves.toBe('fb');
      await expect(
        breaker.call(
          () => {
            throw boom;
          },
          { fallback: () => 7 },
        ),
      ).resolves.toBe(7);
      expect(errors[0]).toBeInstanceOf(CallTimeoutError);
      expect(errors[1]).toBe(boom);
      expect(breaker.metrics()).toMatchObject({ total_calls: 3, failure_count: 3 });
    });

    it('a throwing fallback rejects the call with its error; a success never calls it', async () => {
      const { breaker } = breakerOn(backend, { failureThreshold: 1 });
      let calls = 0;
      await expect(breaker.call(async () => 'v', { fallback: () => calls++ })).resolves.toBe('v');
      expect(calls).toBe(0);
      const fbErr = new Error('fallback broke');
      const thrower = () => {
        throw fbErr;
      };
      await expect(breaker.call(() => Promise.reject(new Error('x')), { fallback: thrower })).rejects.toBe(fbErr);
      // Now Open: the refusal path too.
      await expect(breaker.call(async () => 'v', { fallback: thrower })).rejects.toBe(fbErr);
    });

    it('is typed: call<R, F> returns Promise<R | F>', async () => {
      const { breaker } = breakerOn(backend);
      const p = breaker.call(async () => 1, { fallback: () => 'none' as const });
      expectTypeOf(p).toEqualTypeOf<Promise<number | 'none'>>();
      const q = breaker.call(() => 'x');
      expectTypeOf(q).toEqualTypeOf<Promise<string>>();
      const r = breaker.call(async () => true, { fallback: async () => null });
      expectTypeOf(r).toEqualTypeOf<Promise<boolean | null>>();
      expect(await p).toBe(1);
      expect(await q).toBe('x');
      expect(await r).toBe(true);
    });
  });

  describe('options are validated: a rejected promise, no permit, nothing changed', () => {
    const BAD: [string, unknown][] = [
      ['timeoutMs', 0],
      ['timeoutMs', -5],
      ['timeoutMs', 1.5],
      ['timeoutMs', 3_600_001],
      ['timeoutMs', NaN],
      ['timeoutMs', Infinity],
      ['timeoutMs', '10'],
      ['timeoutMs', null],
      ['signal', 5],
      ['signal', {}],
      ['signal', { aborted: false }],
      ['signal', null],
      ['fallback', 'x'],
      ['fallback', {}],
      ['fallback', null],
      ['timeout', 10],
      ['onFallback', () => 1],
    ];
    for (const state of ['Closed', 'Open', 'HalfOpen'] as const) {
      it.each(BAD)(`${state}: %s = %s`, async (key, value) => {
        const { breaker } = state === 'HalfOpen' ? halfOpen(backend, 1) : breakerOn(backend, { failureThreshold: 1 });
        if (state === 'Open') breaker.recordFailure(1);
        const before = stateOf(breaker);
        let runs = 0;
        let p: Promise<unknown> | undefined;
        expect(() => (p = breaker.call(() => runs++, { [key]: value } as never))).not.toThrow();
        const err = await p!.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidOptionsError);
        expect((err as InvalidOptionsError).option).toBe(key);
        expect(runs).toBe(0);
        expect(stateOf(breaker)).toEqual(before);
      });
    }

    it.each([null, 5, 'x', [], true])('options = %s', async (options) => {
      const { breaker } = breakerOn(backend);
      const before = stateOf(breaker);
      await expect(breaker.call(() => 1, options as never)).rejects.toBeInstanceOf(InvalidOptionsError);
      expect(stateOf(breaker)).toEqual(before);
    });

    it('the limits are accepted', async () => {
      const { breaker } = breakerOn(backend);
      await expect(breaker.call(() => 1, { timeoutMs: 1 })).resolves.toBe(1);
      await expect(breaker.call(() => 1, { timeoutMs: 3_600_000, signal: new AbortController().signal, fallback: undefined })).resolves.toBe(1);
    });

    it.each([0, 3_600_001, 2.5, '5', null])('config callTimeoutMs = %s is an InvalidOptionsError, nothing created', (v) => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      expect(() => registry.circuitBreaker('x', { callTimeoutMs: v as number })).toThrow(
        expect.objectContaining({ option: 'callTimeoutMs' }) as never,
      );
      expect(registry.entries()).toEqual([]);
      expect(CircuitBreakerConfig.forQueue({ callTimeoutMs: 1000 }).callTimeoutMs).toBe(1000);
    });
  });

  describe('isFailure (per thread)', () => {
    class NotFound extends Error {}
    const open = (isFailure: (e: unknown) => boolean, config = { failureThreshold: 2, timeoutMs: 10, successThreshold: 1 }) => {
      const clock = new FakeClock();
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      return { registry, clock, breaker: registry.circuitBreaker('f', config, { clock: clock.read, isFailure }) };
    };

    it('an error it lets through reaches the caller and is recorded as a success (resets consecutive failures)', async () => {
      const { breaker } = open((e) => !(e instanceof NotFound));
      const nf = new NotFound('404');
      await expect(breaker.call(() => Promise.reject(new Error('500')))).rejects.toThrow('500');
      expect(breaker.metrics().consecutive_failures).toBe(1);
      await expect(breaker.call(() => Promise.reject(nf))).rejects.toBe(nf);
      await expect(breaker.call(() => Promise.reject(nf), { fallback: () => 'fb' })).rejects.toBe(nf);
      expect(() =>
        breaker.callSync(() => {
          throw nf;
        }),
      ).toThrow(nf);
      expect(breaker.metrics()).toMatchObject({ total_calls: 4, success_count: 3, failure_count: 1, consecutive_failures: 0, current_state: 'Closed' });
    });

    it('in HalfOpen, a let-through error is a successful probe (the slot is released once)', async () => {
      const { breaker, clock } = open((e) => !(e instanceof NotFound));
      breaker.forceOpen();
      clock.advance(10);
      await expect(breaker.call(() => Promise.reject(new NotFound()))).rejects.toBeInstanceOf(NotFound);
      expect(breaker.metrics()).toMatchObject({ current_state: 'Closed', success_count: 1 });
    });

    it('a throwing or truthy answer is a failure; falsy values of any type let the error through', async () => {
      let answer: unknown = 1;
      const { breaker } = open(() => {
        if (answer === 'throw') throw new Error('filter broke');
        return answer as boolean;
      }, { failureThreshold: 10, timeoutMs: 10, successThreshold: 1 });
      const fail = () => Promise.reject(new Error('x'));
      for (const a of [1, 'throw', true, 'yes']) {
        answer = a;
        await breaker.call(fail).catch(() => undefined);
      }
      for (const a of [0, '', null, undefined, false]) {
        answer = a;
        await breaker.call(fail).catch(() => undefined);
      }
      expect(breaker.metrics()).toMatchObject({ failure_count: 4, success_count: 5 });
    });

    it('is per thread object: two objects of one breaker classify differently, into the same counters', async () => {
      const { registry, breaker: lenient } = open(() => false);
      const strict = registry.circuitBreaker('f', undefined, { isFailure: () => true });
      const plain = registry.circuitBreaker('f');
      const e = new Error('x');
      await lenient.call(() => Promise.reject(e)).catch(() => undefined);
      await strict.call(() => Promise.reject(e)).catch(() => undefined);
      await plain.call(() => Promise.reject(e)).catch(() => undefined);
      expect(plain.metrics()).toMatchObject({ success_count: 1, failure_count: 2 });
    });

    it('a non-function is an InvalidOptionsError and creates nothing', () => {
      const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
      expect(() => registry.circuitBreaker('x', undefined, { isFailure: true as never })).toThrow(
        expect.objectContaining({ option: 'isFailure' }) as never,
      );
      expect(registry.entries()).toEqual([]);
    });
  });

  describe('a custom clock that returns garbage', () => {
    it('call still never throws, and every call settles', async () => {
      for (const options of [undefined, { timeoutMs: 50 }]) {
        let t: number = 0;
        const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
        const breaker = registry.circuitBreaker('c', { failureThreshold: 1 }, { clock: () => t });
        t = NaN; // recording the failure that opens the breaker must stamp the time
        const boom = new Error('boom');
        let p: Promise<unknown> | undefined;
        expect(() =>
          (p = breaker.call(() => {
            throw boom;
          }, options)),
        ).not.toThrow();
        const r = await Promise.race([settled(p!), sleep(200).then(() => 'pending' as const)]);
        expect(r).not.toBe('pending');
        expect((r as { ok: boolean }).ok).toBe(false);
        const q = breaker.call(() => Promise.reject(boom), options);
        const r2 = await Promise.race([settled(q), sleep(200).then(() => 'pending' as const)]);
        expect(r2).not.toBe('pending');
        expect((r2 as { ok: boolean }).ok).toBe(false);
      }
    });
  });

  describe('hostile results: every permit gets exactly one record', () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    class BrokenThen<T> extends Promise<T> {
      override then(): never {
        throw new Error('broken then');
      }
    }
    class SilentThen<T> extends Promise<T> {
      override then(): Promise<never> {
        return never();
      }
    }
    const brokenCtor = () => {
      const p = Promise.resolve(3);
      Object.defineProperty(p, 'constructor', {
        get() {
          throw new Error('no constructor');
        },
      });
      return p;
    };
    type Case = [name: string, make: () => unknown, expected: 'success' | 'failure' | 'hang'];
    const CASES: Case[] = [
      [
        'then getter throws',
        () =>
          Object.defineProperty({}, 'then', {
            get() {
              throw new Error('getter');
            },
          }),
        'failure',
      ],
      ['revoked Proxy', revoked, 'failure'],
      ['then throws', () => ({ then: () => { throw new Error('then'); } }), 'failure'],
      ['calls back twice (ok, ok)', () => ({ then: (ok: (v: number) => void) => { ok(1); ok(2); } }), 'success'],
      ['calls back twice (ok, err)', () => ({ then: (ok: (v: number) => void, err: (e: unknown) => void) => { ok(1); err(new Error('2')); } }), 'success'],
      ['calls back twice (err, ok)', () => ({ then: (ok: (v: number) => void, err: (e: unknown) => void) => { err(new Error('1')); ok(2); } }), 'failure'],
      ['resolves, then throws', () => ({ then: (ok: (v: number) => void) => { ok(1); throw new Error('after'); } }), 'success'],
      ['never calls back', () => ({ then: () => undefined }), 'hang'],
      ['Promise subclass with a throwing then', () => BrokenThen.resolve(1), 'failure'],
      ['Promise subclass whose then never calls back', () => SilentThen.resolve(1), 'hang'],
      ['Proxy of a native promise', () => new Proxy(Promise.resolve(1), {}), 'failure'],
      ['Proxy lying about its prototype', () => new Proxy({}, { getPrototypeOf: () => Promise.prototype }), 'success'],
      ['native promise with a throwing constructor getter', brokenCtor, 'failure'],
      ['native promise with an own then property', () => Object.assign(Promise.resolve(4), { then: () => { throw new Error('own'); } }), 'success'],
      ['a function with a then', () => Object.assign(() => 1, { then: (ok: (v: number) => void) => ok(5) }), 'success'],
      ['a plain object', () => ({ a: 1 }), 'success'],
    ];

    for (const [name, make, expected] of CASES) {
      it(`${name}: ${expected}`, async () => {
        const { breaker, clock } = breakerOn(backend, { failureThreshold: 100, timeoutMs: 10, successThreshold: 1 });
        const calls = [breaker.call(make), breaker.call(make, { timeoutMs: 20 }), breaker.call(make, { fallback: () => 'fb' as const, timeoutMs: 20 })];
        const results = await Promise.all(calls.map((p) => Promise.race([settled(p), sleep(60).then(() => 'pending' as const)])));
        const m = breaker.metrics();
        if (expected === 'hang') {
          // Without a timeout the call stays pending (only a timeout, or for a half-open
          // probe the probe lease, ends it); with one, it is one failure.
          expect(results[0]).toBe('pending');
          expect((results[1] as { error: unknown }).error).toBeInstanceOf(CallTimeoutError);
          expect(results[2]).toEqual({ ok: true, value: 'fb' });
          expect(m).toMatchObject({ total_calls: 2, failure_count: 2 });
        } else {
          expect(results.every((r) => r !== 'pending')).toBe(true);
          expect(m).toMatchObject({ total_calls: 3, [expected === 'success' ? 'success_count' : 'failure_count']: 3 });
          if (expected === 'failure') expect(results[2]).toEqual({ ok: true, value: 'fb' });
        }
        // And as the only half-open probe: it is released exactly once either way.
        if (expected !== 'hang') {
          breaker.forceOpen();
          clock.advance(10);
          await settled(breaker.call(make, { timeoutMs: 20 }));
          expect(breaker.state).toBe(expected === 'success' ? 'Closed' : 'Open');
        }
      });
    }

    it('callSync does not look inside the value: a hostile object is a plain success', () => {
      const { breaker } = breakerOn(backend);
      const v = revoked();
      expect(breaker.callSync(() => v)).toBe(v);
      expect(breaker.metrics()).toMatchObject({ total_calls: 1, success_count: 1 });
    });
  });

  describe('stateChanges options are checked before subscribing', () => {
    const subs = (b: CircuitBreaker) => (b as unknown as { binding: { watcher: { subs: Set<unknown> } } }).binding.watcher.subs.size;
    it.each([[{ signal: 5 }], [{ signal: {} }], [{ sgnal: new AbortController().signal }], [5], [null]])('%s', (options) => {
      const { breaker } = breakerOn(backend);
      expect(() => breaker.stateChanges(options as never)).toThrow(InvalidOptionsError);
      expect(subs(breaker)).toBe(0);
    });
    it('a good signal still works', async () => {
      const { breaker } = breakerOn(backend);
      const ac = new AbortController();
      const it = breaker.stateChanges({ signal: ac.signal });
      expect(subs(breaker)).toBe(1);
      ac.abort();
      await expect(it.next()).resolves.toEqual({ value: undefined, done: true });
      expect(subs(breaker)).toBe(0);
    });
  });
});

describe('opening a breaker by name', () => {
  it.each(BACKENDS)('without a config: the existing breaker with its config (any thread), else the defaults (%s)', (backend) => {
    const registry = StatsRegistry.create({ backend, capacityBytes: 1 << 20 });
    const config = { failureThreshold: 3, timeoutMs: 1234, successThreshold: 1, callTimeoutMs: 500 };
    const resolved = CircuitBreakerConfig.defaults(config);
    const db = registry.circuitBreaker('db', config);
    expect(registry.circuitBreaker('db')).toBe(db);
    const other = StatsRegistry.attach(registry.handle, { backend });
    const seen = other.circuitBreaker('db');
    expect(seen.config).toEqual(resolved);
    expect(Object.isFrozen(seen.config)).toBe(true);
    seen.recordFailure(1);
    expect(db.metrics().failure_count).toBe(1);
    // An explicit config must still match exactly ({} means the defaults).
    expect(() => other.circuitBreaker('db', {})).toThrow(NameConflictError);
    expect(() => other.circuitBreaker('db', { ...config, timeoutMs: 1 })).toThrow(NameConflictError);
    expect(other.circuitBreaker('db', config).config).toEqual(resolved);
    // With per-thread options only.
    expect(other.circuitBreaker('db', undefined, { isFailure: () => true }).config).toEqual(resolved);
    // A breaker with the rate window (a longer record) opens by name too, window and all.
    const windowed = { ...config, failureRateThreshold: 0.5, minimumCalls: 4, windowMs: 1000 };
    registry.circuitBreaker('windowed', windowed);
    expect(other.circuitBreaker('windowed').config).toEqual(CircuitBreakerConfig.defaults(windowed));
    // Nothing there: created with the defaults, which the creator's thread then sees.
    const fresh = other.circuitBreaker('fresh');
    expect(fresh.config).toEqual(CircuitBreakerConfig.defaults());
    expect(registry.circuitBreaker('fresh', CircuitBreakerConfig.defaults()).config).toEqual(fresh.config);
    // Another kind under the name is still a conflict.
    registry.counters('c', ['a']);
    expect(() => other.circuitBreaker('c')).toThrow(NameConflictError);
    expect(registry.entries().map((e) => e.name).sort()).toEqual(['c', 'db', 'fresh', 'windowed']);
  });

  it('an existing record is validated before use: a record whose data does not fit its config is corrupt, and skipped by the view', () => {
    const { warnings } = captureWarnings();
    const registry = StatsRegistry.create({ capacityBytes: 1 << 20 });
    const other = StatsRegistry.attach(registry.handle);
    // Records written as another build (or corrupted memory) might have left them.
    const internals = registry as unknown as {
      openEntry(name: string, kind: unknown, d: Record<string, unknown>, bytes: number, build: () => unknown): unknown;
    };
    const breakerKind = KINDS.find((k) => k.name === 'circuitBreaker');
    internals.openEntry('bad-config', breakerKind, { failureThreshold: 0, timeoutMs: 1, successThreshold: 1 }, 1024, () => ({}));
    internals.openEntry('bad-size', breakerKind, { ...CircuitBreakerConfig.forQueue() }, 128, () => ({}));
    expect(() => other.circuitBreaker('bad-config')).toThrow(CorruptRegistryError);
    expect(() => other.circuitBreaker('bad-size')).toThrow(CorruptRegistryError);
    expect(other.circuitBreakers()).toEqual([]);
    expect(other.usage().corruptRecords).toBe(2);
    // Each corrupt record is reported once, by the call that met it first.
    expect(warnings.map((w) => [w.type, w.code])).toEqual([
      ['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY'],
      ['AtomicStatsWarning', 'ERR_CORRUPT_REGISTRY'],
    ]);
    // (What a breaker needs depends on the registry's stripe count, sized to the machine.)
    expect(warnings[0]!.message).toMatch(/: 1024 data bytes, where a circuitBreaker like this one needs \d+\./);
    expect(warnings[1]!.message).toMatch(/: 128 data bytes, where a circuitBreaker like this one needs \d+\./);
  });
});
