// Bench-only Wasm: the physical floors and the Wasm "before" lock of the benchmarks.
// It is never shipped; bench/wasm/build.mjs compiles it into baselines.wasm.
//
// Memory. The module imports one shared memory of one page (initial == maximum) that
// the bench case owning it allocates; every pointer below is a byte offset chosen by
// that case, so this file owns no shared bytes by itself. Like the core, it has no heap,
// no static data and no start function, and its exports take and return i32 only.
//
// Floors. `bump` is the cheapest JS->Wasm call that still does observable work (the
// caller checks the returned count), so an "empty call" cannot be optimised away.
// `atomicAddLoop` runs n i64 atomic adds inside one call: divided by n it is the cost
// of an atomic add with no call boundary, the floor of the core's Counter.inc.
//
// The Wasm spin lock. The same lock word protocol as the JS spin-lock baseline (take
// with compareExchange 0 -> 1, release with an atomic store of 0), guarding plain i64
// adds. The release store is sequentially consistent, so the plain stores made while
// holding the lock are visible to the next owner, who acquires with a seq-cst RMW.

export function bump(x: i32): i32 {
  return x + 1;
}

export function atomicAddLoop(ptr: i32, n: i32): void {
  for (let i = 0; i < n; i++) atomic.add<i64>(<usize>ptr, 1);
}

// @ts-ignore: decorator
@inline function lock(word: i32): void {
  while (atomic.cmpxchg<i32>(<usize>word, 0, 1) != 0) {}
}

// @ts-ignore: decorator
@inline function unlock(word: i32): void {
  atomic.store<i32>(<usize>word, 0);
}

/** One counter behind the lock: *cell += 1. */
export function mutexInc(word: i32, cell: i32): void {
  lock(word);
  store<i64>(<usize>cell, load<i64>(<usize>cell) + 1);
  unlock(word);
}

/** A stats struct behind the lock: *a += 1, *b += 1 and, when c != 0, *c += d. */
export function mutexAdd3(word: i32, a: i32, b: i32, c: i32, d: i32): void {
  lock(word);
  store<i64>(<usize>a, load<i64>(<usize>a) + 1);
  store<i64>(<usize>b, load<i64>(<usize>b) + 1);
  if (c != 0) store<i64>(<usize>c, load<i64>(<usize>c) + <i64>d);
  unlock(word);
}
