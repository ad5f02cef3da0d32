/*
 * Which implementation each op of each op set a registry object is bound to, for each
 * backend: 'wasm' the core for every op, 'js' the JS twin for every op, and 'auto' the
 * rule of src/ops/bind.ts (the JS twin where an op's common case is plain stores to the
 * thread's own stripe, the core wherever an atomic instruction is needed, the breaker's
 * guard success split by case). The record is checked against the functions themselves:
 * an op recorded as the core's is one of the core's exported functions (V8 names those by
 * their index), and one recorded as the JS twin's is not.
 */
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';

const OPS = {
  cells: ['sharedInc', 'sharedAdd', 'baseInc', 'baseAdd', 'ownedInc', 'ownedAdd', 'readShared', 'readShared64', 'readStriped', 'readStriped64'],
  breaker: ['acquire', 'success', 'successWith', 'failure', 'failureWith', 'force'],
  statsOwned: ['stepSuccess', 'stepFailure', 'busHandlerStep', 'busPublish', 'subCompletion'],
  statsShared: ['stepSuccess', 'stepFailure', 'busHandlerStep', 'busPublish', 'subCompletion'],
  metrics: ['gaugeSet', 'gaugeGet', 'gaugeAdd', 'f64BaseAdd', 'f64OwnedAdd', 'f64SumStriped', 'f64BaseSet', 'f64SetStriped', 'histObserveShared', 'histObserveOwned', 'histObserveBase'],
} as const;
type SetName = keyof typeof OPS;

// Under 'auto', the ops that are not the core's.
const AUTO_JS = ['cells.ownedInc', 'cells.ownedAdd', ...OPS.statsOwned.map((op) => `statsOwned.${op}`)];
const AUTO_SPLIT = ['breaker.success'];

function expected(backend: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [set, ops] of Object.entries(OPS)) {
    for (const op of ops) {
      const key = `${set}.${op}`;
      out[key] = backend !== 'auto' ? backend : AUTO_JS.includes(key) ? 'js' : AUTO_SPLIT.includes(key) ? 'split' : 'wasm';
    }
  }
  return out;
}

function bound(r: StatsRegistry): { impl: Record<string, string>; fn: Record<string, { name: string }> } {
  const { ops } = r;
  const sets: Record<SetName, [Record<string, unknown>, Record<string, string>]> = {
    cells: [ops.cells as never, ops.impl.cells],
    breaker: [ops.breaker as never, ops.impl.breaker],
    statsOwned: [ops.stats.owned as never, ops.impl.stats.owned],
    statsShared: [ops.stats.shared as never, ops.impl.stats.shared],
    metrics: [ops.metrics as never, ops.impl.metrics],
  };
  const impl: Record<string, string> = {};
  const fn: Record<string, { name: string }> = {};
  for (const [set, [functions, record]] of Object.entries(sets)) {
    expect(Object.keys(record).sort(), set).toEqual([...OPS[set as SetName]].sort());
    for (const [op, i] of Object.entries(record)) {
      impl[`${set}.${op}`] = i;
      fn[`${set}.${op}`] = functions[op] as { name: string };
    }
  }
  return { impl, fn };
}

// V8 names an exported Wasm function by its index in the module.
const isCoreExport = (f: { name: string }): boolean => typeof f === 'function' && /^\d+$/.test(f.name);
// The two 64-bit readers are the core's exports behind a BigInt.asUintN (an i64 arrives signed).
const WRAPPED = ['cells.readShared64', 'cells.readStriped64'];

describe.each(BACKENDS)('the op sets a registry object is bound to (%s)', (backend) => {
  it('each op received the implementation the rule gives it', () => {
    const r = StatsRegistry.create({ backend });
    expect(bound(r).impl).toEqual(expected(backend));
  });

  it('the record is what each op is: the core exports for the core, the JS twin otherwise', () => {
    const { impl, fn } = bound(StatsRegistry.create({ backend }));
    for (const [key, i] of Object.entries(impl)) {
      expect(typeof fn[key], key).toBe('function');
      if (i === 'wasm' && !WRAPPED.includes(key)) expect(isCoreExport(fn[key]!), key).toBe(true);
      else expect(isCoreExport(fn[key]!), key).toBe(false);
    }
  });

  it('an attachment binds its own backend, whatever the creator chose', () => {
    const other = BACKENDS.find((b) => b !== backend)!;
    const r = StatsRegistry.attach(StatsRegistry.create({ backend: other }).handle, { backend });
    expect(bound(r).impl).toEqual(expected(backend));
  });
});
