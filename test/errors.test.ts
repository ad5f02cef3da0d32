import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as esm from '../dist/index.js';
import { EVERY_CODE } from './fixtures/error-types.js';

// The package ships an ESM and a CJS build; a process can load both. An error thrown by
// one copy must still be `instanceof` the other copy's class (src/errors.ts explains the
// brand). These load the built files, as a consumer would.
const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof esm;

type ErrorClass = (abstract new (...args: never[]) => Error) & { readonly code?: string };

function errorClasses(mod: Record<string, unknown>): Map<string, ErrorClass> {
  const out = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value === 'function' && /Error$/.test(name)) out.set(name, value as unknown as ErrorClass);
  }
  return out;
}

// One instance of every exported error class, made by the given copy of the package.
function samples(m: typeof esm): Map<string, Error> {
  const breaker = 'b';
  return new Map<string, Error>([
    ['InvalidCountError', new m.InvalidCountError(-1, 'negative')],
    ['UnknownFieldError', new m.UnknownFieldError('s', 'x', ['a'])],
    ['NameConflictError', new m.NameConflictError('n', 'a', 'b')],
    ['RegistryFullError', new m.RegistryFullError('full')],
    ['InvalidOptionsError', new m.InvalidOptionsError('o', 'bad')],
    ['InvalidHandleError', new m.InvalidHandleError('bad')],
    ['CorruptRegistryError', new m.CorruptRegistryError('n', 'bad')],
    ['RegistryClosedError', new m.RegistryClosedError()],
    ['UnsafeIntegerError', new m.UnsafeIntegerError('s', 'f')],
    ['CircuitOpenError', new m.CircuitOpenError(breaker, 'Open')],
    ['CallTimeoutError', new m.CallTimeoutError(breaker, 5)],
    ['InvalidPatternError', new m.InvalidPatternError('', 'empty')],
    ['InvalidEventError', new m.InvalidEventError(1, 'no')],
    ['HandlerFailedError', new m.HandlerFailedError('p', 'e', new Error('x'), 'failed')],
    ['ReceiverClosedError', new m.ReceiverClosedError('closed')],
    ['CorrelationTimeoutError', new m.CorrelationTimeoutError('c', 5)],
    ['CompletionConversionError', new m.CompletionConversionError('r')],
    ['DuplicateCorrelationError', new m.DuplicateCorrelationError('c')],
    ['SubscriberClosedError', new (m.SubscriberClosedError as unknown as new () => Error)()],
    ['CardinalityLimitError', new m.CardinalityLimitError('m', 10)],
    ['InvalidLabelsError', new m.InvalidLabelsError('m', 'missing label')],
    ['InvalidValueError', new m.InvalidValueError('m', NaN, 'not finite')],
    ['ServeMetricsError', new m.ServeMetricsError('port in use', new Error('EADDRINUSE'))],
    ['NotResettableError', new m.NotResettableError('atomic_stats_registry_entries')],
    ['ThreadMonitorError', new m.ThreadMonitorError('monitored already', 0)],
    ['BulkheadFullError', new m.BulkheadFullError('b', 'full', '1 running')],
    ['RateLimitedError', new m.RateLimitedError('r', 1, 20, 10)],
  ]);
}

describe('error classes across the ESM and CJS copies of the package', () => {
  it('loads two distinct copies (the premise of these tests)', () => {
    expect(cjs.AtomicStatsError).not.toBe(esm.AtomicStatsError);
    expect(cjs.CircuitOpenError).not.toBe(esm.CircuitOpenError);
  });

  it('every exported error class has a sample here and a static code of its own', () => {
    const classes = errorClasses(esm as unknown as Record<string, unknown>);
    const made = samples(esm);
    for (const [name, cls] of classes) {
      if (name === 'AtomicStatsError') continue;
      expect(made.has(name), name).toBe(true);
      expect(Object.prototype.hasOwnProperty.call(cls, 'code'), name).toBe(true);
      expect((made.get(name) as { code?: string }).code).toBe(cls.code);
    }
    expect(made.size).toBe(classes.size - 1);
  });

  it('the exported ErrorCode type lists exactly the codes the exported classes carry', () => {
    // EVERY_CODE's keys are checked against ErrorCode by the compiler (the fixture).
    const codes = [...errorClasses(esm as unknown as Record<string, unknown>)].filter(([name]) => name !== 'AtomicStatsError').map(([, cls]) => cls.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(Object.keys(EVERY_CODE).sort());
  });

  it('instanceof matches the same class of either copy, and no other class', () => {
    for (const [maker, checker] of [
      [esm, cjs],
      [cjs, esm],
      [esm, esm],
    ] as const) {
      const classes = errorClasses(checker as unknown as Record<string, unknown>);
      for (const [name, err] of samples(maker)) {
        expect(err instanceof checker.AtomicStatsError, name).toBe(true);
        expect(err instanceof Error, name).toBe(true);
        for (const [other, cls] of classes) {
          if (other === 'AtomicStatsError') continue;
          expect(err instanceof cls, `${name} instanceof ${other}`).toBe(other === name);
        }
      }
    }
  });

  it('an error thrown by one copy is caught as the other copy’s class', () => {
    const registry = cjs.StatsRegistry.create({ capacityBytes: 65536 });
    let caught: unknown;
    try {
      registry.counters('', ['a']);
    } catch (err) {
      caught = err;
    }
    expect(caught instanceof esm.InvalidOptionsError).toBe(true);
    expect(caught instanceof esm.NameConflictError).toBe(false);
    expect((caught as esm.InvalidOptionsError).code).toBe('ERR_INVALID_OPTIONS');
  });

  it('values that are not atomic-stats errors never match', () => {
    for (const v of [null, undefined, 0, 'ERR_CIRCUIT_OPEN', new Error('x'), { code: 'ERR_CIRCUIT_OPEN' }, Object.create(esm.CircuitOpenError.prototype)]) {
      expect(v instanceof esm.AtomicStatsError).toBe(false);
      expect(v instanceof cjs.CircuitOpenError).toBe(false);
    }
    // A forged brand with the wrong type is refused too.
    const forged = { [Symbol.for('atomic-stats.error-code')]: 7 };
    expect(forged instanceof esm.AtomicStatsError).toBe(false);
  });

  it('a subclass without a static code of its own falls back to the prototype check', () => {
    class LocalError extends esm.AtomicStatsError {
      constructor() {
        super('ERR_INVALID_OPTIONS', 'local');
      }
    }
    expect(new LocalError() instanceof LocalError).toBe(true);
    expect(new esm.InvalidOptionsError('o', 'x') instanceof LocalError).toBe(false);
    expect(new LocalError() instanceof esm.AtomicStatsError).toBe(true);
  });
});
