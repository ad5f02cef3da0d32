/*
 * Counter cells in the shared memory. The host (src/layout.ts) decides where every cell
 * lives; this module only does arithmetic at the addresses it is given. It owns no memory:
 * no static data, no heap, no globals written after start, so instantiating it once per
 * thread on the same shared memory cannot overwrite anything.
 *
 * Two kinds of cell.
 *
 * 1. Shared cells (plain sets, and the shared stripe of a striped set): one u64, 8-byte
 *    aligned. Any thread may write; every update is `i64.atomic.rmw.add`, every read
 *    `i64.atomic.load`. Wasm has only sequentially consistent atomics, which is at least
 *    the relaxed `fetch_add` the spec asks for. Wrap-around at 2^64 is the instruction's.
 *
 * 2. Owned cells (the stripes of a striped set). Exactly one thread ever writes a stripe
 *    (the thread holding that stripe's slot, see src/registry.ts), so the common update
 *    needs no read-modify-write instruction: a plain load and a plain store. Readers in
 *    other threads race with those stores, and the race must be benign: a reader must
 *    never assemble a value the counter never held.
 *
 *    What the memory models promise for a racing plain store: a naturally aligned access
 *    of at most 32 bits does not tear (ECMA-262 IsNoTearConfiguration for integer typed
 *    arrays; the Wasm model likewise, WebAssembly/threads#199), and nothing else. A plain
 *    64-bit store may tear, and a plain store is not ordered with the writer's other
 *    stores as another thread sees them (no happens-before edge comes from a plain
 *    write), so a reader cannot combine two separately written words and expect them to
 *    match -- not even under a seqlock, whose sequence check says nothing about plain
 *    stores made after it. (On x86 they happen to arrive in order; on ARM they need not.)
 *
 *    So an owned cell is arranged so that ONE plain-written 32-bit word is enough:
 *
 *      low word  (u32, written plainly by the owner):  tag:8 | low:24
 *      high word (u64, atomic store by the owner, atomic load by readers): high
 *      value = high * 2^24 + low  (mod 2^64)
 *      invariant kept by the writer: every low word it stores carries tag = high mod 256
 *      for the high in effect when that low word was written.
 *
 *    An update that stays below 2^24 in `low` is one plain 32-bit store (tag kept). An
 *    update that overflows `low` stores the new high atomically, then the low word with
 *    the new tag (the carry; once per 2^24 units of value).
 *
 *    A reader loads high (H), the low word (tag t, low l), then high again. The tag says
 *    which high the low word belongs to: the one of the form H + d with d = t - H mod 256
 *    taken in [-128, 127]. value = (H + d) * 2^24 + l is then exactly the cell's value
 *    just after that low word was written -- whatever order the stores became visible
 *    in, and whether or not a carry was in flight. The one assumption: the owner's high
 *    moved by fewer than 128 between the write the reader saw and the high it loaded.
 *    A single update moves high by at most 64 (updates of 2^30 or more go to the shared
 *    stripe instead, see the host), and the reader retries while high changes under it,
 *    so that needs over 2^31 units written between two adjacent loads of one reader.
 *    A reader never waits for a writer: a thread terminated in the middle of a carry
 *    leaves a cell that still reads exactly (its value before that carry).
 *
 * Readers may see a slightly stale total; a snapshot is a set of individually exact
 * loads, not a transaction.
 */

const MAX_SAFE: u64 = 9007199254740991; // 2^53 - 1
const LOW_BITS: u32 = 24;
const LOW_MASK: u32 = 0xffffff;
const TAG_MASK: u32 = 0xff000000;
// A reader retries while the high word changes under it; a carry happens once per 2^24
// units, so more than a few retries means a writer adding at an absurd rate. After this
// many the reader keeps the last triple: the tag arithmetic is exact for it anyway unless
// high moved by 128 or more.
const READ_RETRIES: i32 = 64;

// ---- shared cells -------------------------------------------------------------------

export function sharedInc(cell: u32): void {
  atomic.add<u64>(cell, 1);
}

export function sharedAdd(cell: u32, lo: u32, hi: u32): void {
  atomic.add<u64>(cell, (<u64>hi << 32) | <u64>lo);
}

// ---- base cells -----------------------------------------------------------------------
// The base cell of a contention-adaptive series (src/kinds/adaptive-cells.ts): a shared
// cell written with a compare-and-swap instead of an atomic add, because a failed swap is
// the one signal of contention both backends have. Uncontended, the two cost the same: a
// load that brings the line in, then one locked instruction on it. On failure the amount
// still lands exactly once, by an atomic add, and 1 tells the host that another thread
// wrote the cell between this thread's load and its swap. It also returns 1 when the
// series' inflation word, the 8 bytes after the cell, is set: once one thread gave the
// series its stripes, its base is no longer contended, and this is how every other thread
// still on the base learns of them at its next write (the word is written once, so its
// line is only read). A thread terminated anywhere in here has added its amount (the
// swap or the add) or not (before either).

export function baseInc(cell: u32): i32 {
  const v = atomic.load<u64>(cell);
  if (atomic.cmpxchg<u64>(cell, v, v + 1) == v) return <i32>(load<i32>(cell + 8) != 0);
  atomic.add<u64>(cell, 1);
  return 1;
}

export function baseAdd(cell: u32, lo: u32, hi: u32): i32 {
  const n = (<u64>hi << 32) | <u64>lo;
  const v = atomic.load<u64>(cell);
  if (atomic.cmpxchg<u64>(cell, v, v + n) == v) return <i32>(load<i32>(cell + 8) != 0);
  atomic.add<u64>(cell, n);
  return 1;
}

// ---- owned cells --------------------------------------------------------------------

// The carry: `t` (< 2^31) is the new low part before reduction, `w` the low word it was
// computed from. Only the owner writes `high`, so a plain load of it reads the last store
// to it. The new high is built on the high that `w`'s tag names, not on the stored one:
// the two are equal for an owner that has written the stripe all along, but a stripe
// taken over from a thread terminated between the two stores of a carry (src/slots.ts)
// has a stored high up to 64 ahead of its low word's tag, and the tag is the one that
// matches the low part. Building on it keeps the new owner's value exact; the high word
// may then move back, which readers handle like any change (they retry, and the tag of
// the low word they pair with it still places it). Once per 2^24 units: not a hot path.
@inline
function ownedCarry(low: u32, high: u32, w: u32, t: u32): void {
  const stored = load<u64>(high);
  const d = <i32>(((w >>> LOW_BITS) - <u32>stored + 128) & 0xff) - 128;
  const h = stored + <u64>(<i64>d) + <u64>(t >>> LOW_BITS);
  atomic.store<u64>(high, h);
  atomic.store<u32>(low, (<u32>h << LOW_BITS) | (t & LOW_MASK));
}

export function ownedInc(low: u32, high: u32): void {
  const w = load<u32>(low);
  const t = (w & LOW_MASK) + 1;
  if (t <= LOW_MASK) {
    store<u32>(low, (w & TAG_MASK) | t);
  } else {
    ownedCarry(low, high, w, t);
  }
}

/** `n` < 2^30 (the host sends larger adds to the shared stripe). */
export function ownedAdd(low: u32, high: u32, n: u32): void {
  const w = load<u32>(low);
  const t = (w & LOW_MASK) + n;
  if (t <= LOW_MASK) {
    store<u32>(low, (w & TAG_MASK) | t);
  } else {
    ownedCarry(low, high, w, t);
  }
}

@inline
function readOwned(low: u32, high: u32): u64 {
  let h: u64 = 0;
  let w: u32 = 0;
  for (let tries = 0; tries < READ_RETRIES; tries++) {
    h = atomic.load<u64>(high);
    w = atomic.load<u32>(low);
    if (atomic.load<u64>(high) == h) break;
  }
  // d = (tag - h) mod 256, as a signed value in [-128, 127]
  const d = <i32>(((w >>> LOW_BITS) - <u32>h + 128) & 0xff) - 128;
  return ((h + <u64>(<i64>d)) << LOW_BITS) + <u64>(w & LOW_MASK);
}

// ---- reads --------------------------------------------------------------------------
// A striped field's value is its cell in the shared stripe plus its owned cell in every
// owned stripe, summed modulo 2^64. `firstLow`/`firstHigh` are the field's words in
// owned stripe 0; each further stripe is `stride` bytes on.

@inline
function sumStriped(sharedCell: u32, firstLow: u32, firstHigh: u32, stride: u32, stripes: u32): u64 {
  let total = atomic.load<u64>(sharedCell);
  for (let i: u32 = 0; i < stripes; i++) {
    const at = i * stride;
    total += readOwned(firstLow + at, firstHigh + at);
  }
  return total;
}

// Number reads return -1 for a value above 2^53 - 1, which a double cannot hold exactly;
// the host turns that into an UnsafeIntegerError instead of rounding.
@inline
function toSafeNumber(v: u64): f64 {
  return v > MAX_SAFE ? -1.0 : <f64>v;
}

export function readShared(cell: u32): f64 {
  return toSafeNumber(atomic.load<u64>(cell));
}

export function readShared64(cell: u32): u64 {
  return atomic.load<u64>(cell);
}

export function readStriped(sharedCell: u32, firstLow: u32, firstHigh: u32, stride: u32, stripes: u32): f64 {
  return toSafeNumber(sumStriped(sharedCell, firstLow, firstHigh, stride, stripes));
}

export function readStriped64(sharedCell: u32, firstLow: u32, firstHigh: u32, stride: u32, stripes: u32): u64 {
  return sumStriped(sharedCell, firstLow, firstHigh, stride, stripes);
}

// ---- ABI ----------------------------------------------------------------------------
// Bumped whenever an export is added, removed or changes meaning, or the host's layout changes; the host
// refuses a module (e.g. from a handle made by another version) that disagrees.
export function abiVersion(): i32 {
  return 10;
}
