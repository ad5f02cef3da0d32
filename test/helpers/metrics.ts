import { expect } from 'vitest';
import { AtomicStatsError, type StatsRegistry } from '../../src/index.js';

/**
 * Everything observable about a registry: every directory entry with its descriptor, the
 * memory in use, and one collect() of every value (counter sets, structs, breakers and
 * every user metric series, exactly: counters as bigints).
 */
export function registryState(r: StatsRegistry): unknown {
  return { entries: r.entries(), usage: r.usage(), families: r.collect() };
}

/**
 * Runs `call`, expects it to throw `type` (an AtomicStatsError), and checks that
 * `observe()` (whatever the test takes as the observable state) reads the same after.
 */
export function expectRejectedKeeping(observe: () => unknown, call: () => unknown, type: abstract new (...a: never[]) => Error): Error {
  const before = observe();
  let caught: unknown;
  try {
    call();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect(caught).toBeInstanceOf(AtomicStatsError);
  const after = observe();
  if (before instanceof Uint8Array && after instanceof Uint8Array) {
    // Whole memories (megabytes): a deep equal walks them byte by byte in JS and took
    // seconds per call; compare natively and name the first byte that differs.
    expect(firstDifference(before, after)).toBe(-1);
  } else {
    expect(after).toEqual(before);
  }
  return caught as Error;
}

/** The first offset where `a` and `b` differ (a length difference counts), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Runs `call`, expects it to throw `type` (an AtomicStatsError) and to have changed nothing. */
export function expectRejected(r: StatsRegistry, call: () => unknown, type: abstract new (...a: never[]) => Error): Error {
  return expectRejectedKeeping(() => registryState(r), call, type);
}

/** The user families of a collect(), by name. */
export function userFamilies(r: StatsRegistry) {
  return new Map(r.collect().filter((f) => !f.name.startsWith('atomic_stats_')).map((f) => [f.name, f]));
}
