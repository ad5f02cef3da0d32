// recordCompletion takes a boolean or throws (recording nothing); handleCompletion never
// throws, whatever it is given: at worst one conversion error, each field read once.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  AtomicStatsError,
  CompletionConversionError,
  CompletionSender,
  InvalidOptionsError,
  StatsRegistry,
  WorkerEventSubscriber,
  convertCompletion,
} from '../src/index.js';
import { recordingLogger } from './helpers/bus.js';
import { BACKENDS } from './helpers/backends.js';

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
const trapAll = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error('get trap');
      },
      has() {
        throw new Error('has trap');
      },
      ownKeys() {
        throw new Error('ownKeys trap');
      },
      getPrototypeOf() {
        throw new Error('proto trap');
      },
    },
  );
const base = () => ({ event_id: 'e1', task_uuid: 't1', step_uuid: 's1', result: null });
const throwingGetter = (obj: object, key: string) =>
  Object.defineProperty(obj, key, {
    enumerable: true,
    get() {
      throw new Error(`getter ${key}`);
    },
  });

describe.each(BACKENDS)('validation gaps (%s backend)', (backend) => {
  describe.each([true, false])('recordCompletion, striped=%s', (striped) => {
    it.each(['yes', 1, 0, undefined, null, 'true', {}, Symbol('x'), 1n])('recordCompletion(%s) throws InvalidOptionsError and records nothing', (bad) => {
      const r = StatsRegistry.create({ backend });
      const s = r.workerSubscriberStats('sub', { striped });
      s.recordCompletion(true);
      s.recordCompletion(false);
      const before = s.snapshotBigInt();
      const entries = r.entries();
      let err: unknown;
      try {
        s.recordCompletion(bad as boolean);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect(err).toBeInstanceOf(AtomicStatsError);
      expect((err as InvalidOptionsError).option).toBe('success');
      expect(s.snapshotBigInt()).toEqual(before);
      expect(r.entries()).toEqual(entries);
    });
  });

  describe('handleCompletion never throws', () => {
    const newSub = () => {
      const logger = recordingLogger();
      const sub = new WorkerEventSubscriber({ registry: StatsRegistry.create({ backend }), name: 'subs', workerId: 'w', logger });
      return { sub, logger };
    };

    // [label, value, success as classified (undefined: unclassifiable)]
    const cases: [string, () => unknown, boolean | undefined][] = [
      ['null', () => null, undefined],
      ['undefined', () => undefined, undefined],
      ['a number', () => 42, undefined],
      ['a string', () => 'completion', undefined],
      ['a symbol', () => Symbol('c'), undefined],
      ['a function', () => () => {}, undefined],
      ['an array', () => [base()], undefined],
      ['a revoked Proxy', revoked, undefined],
      ['a Proxy whose traps throw', trapAll, undefined],
      ['a success getter that throws', () => throwingGetter(base(), 'success'), undefined],
      ['success "yes"', () => ({ ...base(), success: 'yes' }), undefined],
      ['an event_id getter that throws', () => throwingGetter({ success: true, task_uuid: 't', step_uuid: 's' }, 'event_id'), true],
      ['a metadata getter that throws', () => throwingGetter({ ...base(), success: false }, 'metadata'), false],
      ['metadata a Proxy whose traps throw', () => ({ ...base(), success: true, metadata: trapAll() }), true],
      ['metadata a revoked Proxy', () => ({ ...base(), success: true, metadata: revoked() }), true],
      ['a result getter that throws', () => throwingGetter({ ...base(), success: true }, 'result'), true],
      ['an error_message getter that throws', () => throwingGetter({ ...base(), success: false }, 'error_message'), false],
    ];

    it.each(cases)('%s: one conversion error, nothing else but its classification', (_label, make, success) => {
      const { sub, logger } = newSub();
      sub.handleCompletion({ ...base(), success: true }); // some state to compare against
      const before = sub.getStatisticsBigInt();
      let out: unknown = 'not called';
      expect(() => (out = sub.handleCompletion(make()))).not.toThrow();
      expect(out).toBeUndefined();
      const after = sub.getStatisticsBigInt();
      const classified = success === undefined ? 0n : 1n;
      expect(after).toEqual({
        ...before,
        completions_received: before.completions_received + classified,
        successful_completions: before.successful_completions + (success === true ? 1n : 0n),
        failed_completions: before.failed_completions + (success === false ? 1n : 0n),
        conversion_errors: before.conversion_errors + 1n,
      });
      expect(logger.calls).toHaveLength(1);
    });

    it('a success getter is read once: true then garbage is one success', () => {
      const { sub } = newSub();
      let reads = 0;
      const c = Object.defineProperty(base(), 'success', {
        enumerable: true,
        get() {
          return ++reads === 1 ? true : 'garbage';
        },
      });
      const r = sub.handleCompletion(c);
      expect(reads).toBe(1);
      expect(r?.success).toBe(true);
      expect(sub.getStatistics()).toMatchObject({ completions_received: 1, successful_completions: 1, conversion_errors: 0 });
    });

    it('an event_id that is valid once and throws afterwards is read once and correlates', () => {
      const { sub } = newSub();
      sub.trackPendingExecution('e1', { task_uuid: 't1', step_uuid: 's1', step_name: 'n' });
      let reads = 0;
      const c = Object.defineProperty({ success: true, task_uuid: 't1', step_uuid: 's1', result: 1 }, 'event_id', {
        enumerable: true,
        get() {
          if (++reads > 1) throw new Error('second read');
          return 'e1';
        },
      });
      expect(sub.handleCompletion(c)?.step_uuid).toBe('s1');
      expect(reads).toBe(1);
      expect(sub.pendingCount).toBe(0);
      expect(sub.getStatistics()).toMatchObject({ completions_received: 1, conversion_errors: 0, unmatched_correlations: 0 });
    });

    it('a completion for a pending execution whose metadata throws rejects its waiter at once with CompletionConversionError', async () => {
      const { sub } = newSub();
      const p = sub.expectCompletion('e1', { task_uuid: 't1', step_uuid: 's1', step_name: 'n' });
      sub.handleCompletion(throwingGetter({ ...base(), success: true }, 'metadata'));
      await expect(p).rejects.toBeInstanceOf(CompletionConversionError);
      expect(sub.pendingCount).toBe(0);
    });

    it('convertCompletion throws only CompletionConversionError, whatever the input', () => {
      for (const [, make] of cases) {
        let err: unknown;
        try {
          convertCompletion(make(), 'w');
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(CompletionConversionError);
      }
    });
  });
});

describe('ports are brand-checked: a Proxy of a real MessagePort is an InvalidOptionsError, at once', () => {
  it('WorkerEventSubscriber.listen(port) refuses it without adding a listener', () => {
    const sub = new WorkerEventSubscriber({ registry: StatsRegistry.create(), name: 'c', workerId: 'w', logger: recordingLogger() });
    const { port1, port2 } = new MessageChannel();
    for (const bad of [new Proxy(port1, {}), { on() {}, unref() {} }, null]) {
      let err: unknown;
      try {
        sub.listen(bad as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as InvalidOptionsError).option).toBe('port');
    }
    expect(port1.listenerCount('message')).toBe(0);
    const stop = sub.listen(port1); // the real port itself is fine
    stop();
    sub.close();
    port1.close();
    port2.close();
  });

  it('new CompletionSender(port) refuses it instead of throwing from postMessage in a later microtask', () => {
    const { port1, port2 } = new MessageChannel();
    let err: unknown;
    try {
      new CompletionSender(new Proxy(port2, {}) as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as InvalidOptionsError).message).toContain('a Proxy of one is not accepted');
    port1.close();
    port2.close();
  });
});
