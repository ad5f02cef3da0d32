/*
 * Binding a registry object to its backend, once: every operation on shared cells comes
 * in two implementations over the same memory, the WebAssembly core's exports and their
 * pure-JS twins (cells, breaker, stats and metrics, each `<set>-wasm.ts` / `<set>-js.ts`
 * behind the interface in `<set>.ts`), and this is the one place that decides, op by op,
 * which of the two a registry object calls. The registry core calls `bindOps` in its
 * constructor; everything opened through the object takes its ops from there, so no kind
 * ever asks which backend it runs on, and no hot path does either.
 *
 * 'wasm' takes every op from the core, 'js' every op from the JS twin (no WebAssembly at
 * all). 'auto', the default, takes each op from whichever twin is faster at it, which is:
 *
 *   - the JS twin for an op whose common case is plain loads and stores of this thread's
 *     own stripe, with no atomic instruction: an owned counter's inc and add and the
 *     stats structs' owned records. V8 inlines those few typed-array accesses into the
 *     caller, while a call into WebAssembly is never inlined and costs more than the
 *     stores themselves;
 *   - the core for every op that needs an atomic instruction: the adds to shared cells
 *     and every read (a 64-bit atomic add or load is one instruction in the core, on
 *     i32/f64 arguments, against a builtin call with a BigInt argument in JS), the
 *     breaker's state machine (a permit is a sequentially consistent load of the state
 *     word, which the core makes inside its call for less than `Atomics.load` costs from
 *     JS), and every float op of gauges, float counters and histograms, the owned ones
 *     included: an f64 cell is written as its 64 bits with one atomic store, which JS can
 *     only make through a BigInt64Array (measured on Node 20: an owned f64 add about 2x,
 *     a striped histogram observe about 1.6x as costly in JS as through the core);
 *   - one exception, the breaker's `success` (the guard's record), is split by case
 *     (breaker-js.ts `splitSuccess`): with an owned stripe, its common case is the JS
 *     path (plain stores, and a plain read of the state word); without one it is one call
 *     into the core, where the JS twin would make three atomic adds.
 *
 * Each op's class ("plain", "atomic", or "split") is written once, in the tables below;
 * `implOf` is the rule, and `impl` records what every op received, so a test holds each
 * backend to it (test/backend-binding.test.ts). The JS twins count through the cell ops
 * bound here, so a JS twin's rare path (the carry of an owned cell, once per 2^24 units)
 * follows the same rule. All twins follow one cell protocol (assembly/counters.ts), which
 * is what lets 'wasm' and 'js' threads share cells, so mixing them within one thread is as
 * safe as across threads.
 */
import type { BackendKind } from '../backend.js';
import { coreModule, instantiateCore } from '../wasm-module.js';
import type { BreakerOps } from './breaker.js';
import { jsBreakerOps, splitSuccess } from './breaker-js.js';
import { type BreakerExports, wasmBreakerOps } from './breaker-wasm.js';
import type { CellOps } from './cells.js';
import { jsCellOps } from './cells-js.js';
import { type CellExports, wasmCellOps } from './cells-wasm.js';
import type { MetricOps } from './metrics.js';
import { jsMetricOps } from './metrics-js.js';
import { type MetricExports, wasmMetricOps } from './metrics-wasm.js';
import type { StatsKernels, StatsOps } from './stats.js';
import { jsStatsOps } from './stats-js.js';
import { type StatsExports, wasmStatsOps } from './stats-wasm.js';

/** The core instance's exports, typed once here: each twin declares the exports it reads. */
type CoreExports = CellExports & BreakerExports & StatsExports & MetricExports;

/** What an op's common case needs (see the header): it decides the op's twin under 'auto'. */
type Need = 'plain' | 'atomic' | 'split';

/** Which implementation an op received: a twin, or (breaker `success` under 'auto') the split of the two. */
export type OpImpl = 'js' | 'wasm' | 'split';

type Needs<S> = { readonly [K in keyof S]: Need };
type Impls<S> = { readonly [K in keyof S]: OpImpl };

const CELLS: Needs<CellOps> = {
  sharedInc: 'atomic',
  sharedAdd: 'atomic',
  baseInc: 'atomic',
  baseAdd: 'atomic',
  ownedInc: 'plain',
  ownedAdd: 'plain',
  readShared: 'atomic',
  readShared64: 'atomic',
  readStriped: 'atomic',
  readStriped64: 'atomic',
};

const BREAKER: Needs<BreakerOps> = {
  acquire: 'atomic',
  success: 'split',
  successWith: 'atomic',
  failure: 'atomic',
  failureWith: 'atomic',
  force: 'atomic',
};

const STATS_OWNED: Needs<StatsKernels> = {
  stepSuccess: 'plain',
  stepFailure: 'plain',
  busHandlerStep: 'plain',
  busPublish: 'plain',
  subCompletion: 'plain',
};

const STATS_SHARED: Needs<StatsKernels> = {
  stepSuccess: 'atomic',
  stepFailure: 'atomic',
  busHandlerStep: 'atomic',
  busPublish: 'atomic',
  subCompletion: 'atomic',
};

const METRICS: Needs<MetricOps> = {
  gaugeSet: 'atomic',
  gaugeGet: 'atomic',
  gaugeAdd: 'atomic',
  f64BaseAdd: 'atomic',
  f64OwnedAdd: 'atomic',
  f64SumStriped: 'atomic',
  f64BaseSet: 'atomic',
  f64SetStriped: 'atomic',
  histObserveShared: 'atomic',
  histObserveOwned: 'atomic',
  histObserveBase: 'atomic',
};

/** A registry object's op sets, bound once for this thread. */
export interface OpSets {
  readonly cells: CellOps;
  readonly breaker: BreakerOps;
  readonly stats: StatsOps;
  readonly metrics: MetricOps;
  /** Which implementation each op of each set received. */
  readonly impl: {
    readonly cells: Impls<CellOps>;
    readonly breaker: Impls<BreakerOps>;
    readonly stats: { readonly owned: Impls<StatsKernels>; readonly shared: Impls<StatsKernels> };
    readonly metrics: Impls<MetricOps>;
  };
}

function implOf(backend: BackendKind, need: Need): OpImpl {
  if (backend !== 'auto') return backend;
  return need === 'plain' ? 'js' : need === 'atomic' ? 'wasm' : 'split';
}

/**
 * One op set under the rule: the twin itself when every op comes from it (so an op set is
 * then exactly the object a pure backend has), otherwise an object of the chosen
 * functions, a JS twin's method bound to its twin. `js` is made only if an op needs it.
 */
function compose<S extends object>(backend: BackendKind, needs: Needs<S>, js: () => S, wasm: S | undefined, split?: Partial<S>): { ops: S; impl: Impls<S> } {
  const ops = Object.keys(needs) as (keyof S & string)[];
  const impl = Object.fromEntries(ops.map((op) => [op, implOf(backend, needs[op])])) as Record<keyof S, OpImpl>;
  const from = new Set(ops.map((op) => impl[op]));
  if (from.size === 1 && from.has('js')) return { ops: js(), impl };
  if (from.size === 1 && from.has('wasm')) return { ops: wasm!, impl };
  const twin = from.has('js') ? js() : undefined;
  const out = {} as Record<keyof S, unknown>;
  for (const op of ops) {
    const i = impl[op];
    out[op] = i === 'wasm' ? wasm![op] : i === 'split' ? split![op] : method(twin!, op);
  }
  return { ops: out as S, impl };
}

type Methods = Record<string, (...a: unknown[]) => unknown>;

/**
 * A JS twin's method as a function of its own: a closure of the method's own arity that
 * calls it on the twin by name, as a hand-written `(low, high) => js.ownedInc(low, high)`
 * does. A call through the method's name lets V8 find the method and inline it into the
 * caller; a bound method, or `f.call(twin, ...)`, hides it, which measured slower on the
 * hot paths (a striped counter's inc, a step record's inline stores).
 */
function method(twin: object, op: string): unknown {
  const t = twin as Methods;
  switch (t[op]!.length) {
    case 1:
      return (a: unknown) => t[op]!(a);
    case 2:
      return (a: unknown, b: unknown) => t[op]!(a, b);
    case 3:
      return (a: unknown, b: unknown, c: unknown) => t[op]!(a, b, c);
    case 4:
      return (a: unknown, b: unknown, c: unknown, d: unknown) => t[op]!(a, b, c, d);
    default:
      return (...a: unknown[]) => t[op]!(...a);
  }
}

/** This thread's op sets on `memory` for a registry object whose backend is `backend`. */
export function bindOps(backend: BackendKind, memory: WebAssembly.Memory): OpSets {
  const buffer = memory.buffer;
  // Always this thread's compilation of the bytes this build embeds, never a module that
  // came in a handle (wasm-module.ts explains why that costs little).
  const x = backend === 'js' ? undefined : (instantiateCore(coreModule(), memory) as unknown as CoreExports);
  const cells = compose(backend, CELLS, () => jsCellOps(buffer), x && wasmCellOps(x));
  const i32 = new Int32Array(buffer);
  const wasmBreaker = x && wasmBreakerOps(x);
  const breaker = compose(backend, BREAKER, () => jsBreakerOps(i32, cells.ops), wasmBreaker, wasmBreaker && { success: splitSuccess(wasmBreaker.success, i32) });
  let jsStats: StatsOps | undefined;
  const jsStatsTwin = (): StatsOps => (jsStats ??= jsStatsOps(cells.ops, buffer));
  const wasmStats = x && wasmStatsOps(x);
  const owned = compose(backend, STATS_OWNED, () => jsStatsTwin().owned, wasmStats?.owned);
  const shared = compose(backend, STATS_SHARED, () => jsStatsTwin().shared, wasmStats?.shared);
  const metrics = compose(backend, METRICS, () => jsMetricOps(buffer, cells.ops), x && wasmMetricOps(x));
  return {
    cells: cells.ops,
    breaker: breaker.ops,
    stats: { owned: owned.ops, shared: shared.ops },
    metrics: metrics.ops,
    impl: { cells: cells.impl, breaker: breaker.impl, stats: { owned: owned.impl, shared: shared.impl }, metrics: metrics.impl },
  };
}
