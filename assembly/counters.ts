/*
 * Counter cells in the shared memory. The host (src/layout.ts) decides where every cell
 * lives; this module only does arithmetic at the addresses it is given. It owns no memory:
 * no static data, no heap, no globals written after start, so that instantiating it once
 * per thread on the same shared memory cannot overwrite anything.
 *
 * Two kinds of cell, both 8 bytes, 8-byte aligned, little-endian u64:
 *
 * 1. Shared cells (plain sets, and the shared stripe of a striped set). Any thread may
 *    write; every update is `i64.atomic.rmw.add`, every read `i64.atomic.load`. Wasm has
 *    only sequentially consistent atomics, so this is at least as strong as the relaxed
 *    `fetch_add` the spec asks for. Wrap-around at 2^64 is the instruction's own.
 *
 * 2. Owned cells (the stripes of a striped set). Exactly one thread ever writes a given
 *    stripe (the thread holding that stripe's slot, see src/registry.ts), so an update
 *    needs no read-modify-write: it is a plain load and a plain store. Readers in other
 *    threads race with those stores, which is benign only if they can never observe a
 *    torn value. Neither memory model promises that for a plain 64-bit store (ECMA-262
 *    IsNoTearConfiguration excludes unordered BigInt64 accesses; the Wasm model only
 *    guarantees naturally aligned accesses of at most 32 bits not to tear). So an owned
 *    cell is kept as two u32 halves:
 *      - the common update touches only the low half, with one aligned 32-bit plain
 *        store: tear-free in both models, so a reader sees either the old or the new low
 *        word, each paired with the unchanged high word;
 *      - an update that changes the high half (a carry out of the low word, or an add of
 *        2^32 or more) is rare and goes through the stripe's sequence word, a seqlock:
 *        seq becomes odd, both halves are stored with atomic stores, seq becomes even.
 *        A reader loads seq, high, low, seq again (all atomic loads) and retries when the
 *        two seq values differ or are odd. All of these are seq-cst atomics, so a reader
 *        that sees a new half also sees the odd seq that was stored before it.
 *    A plain low-word store that precedes a carry in program order happens-before the
 *    carry's atomic stores, so a reader that got the even seq after the carry cannot see
 *    that older low word (coherence): the halves it returns are always a pair that
 *    existed. Readers may see a slightly stale total; a snapshot is a set of
 *    individually consistent loads, not a transaction.
 */

// Bounded spin for a reader that finds a carry in progress. A carry is four stores with
// no loop or call between them, so a live writer finishes it almost at once; the bound
// only matters if the writing thread was terminated in the middle, where the reader
// gives up waiting and returns the halves it read rather than hanging.
const SEQ_SPIN_LIMIT: i32 = 1 << 20;

const MAX_SAFE: u64 = 9007199254740991; // 2^53 - 1

// ---- shared cells -------------------------------------------------------------------

export function sharedInc(cell: u32): void {
  atomic.add<u64>(cell, 1);
}

export function sharedAdd(cell: u32, lo: u32, hi: u32): void {
  atomic.add<u64>(cell, (<u64>hi << 32) | <u64>lo);
}

// ---- owned cells --------------------------------------------------------------------

// Slow path of an owned update: the high word changes, so publish both halves under the
// stripe's sequence word. Only the owning thread writes `seq`, so a plain load of it is
// its own last store.
@inline
function ownedCarry(seq: u32, cell: u32, newLo: u32, hiDelta: u32): void {
  const s = load<u32>(seq);
  atomic.store<u32>(seq, s + 1);
  atomic.store<u32>(cell, newLo);
  atomic.store<u32>(cell + 4, load<u32>(cell + 4) + hiDelta);
  atomic.store<u32>(seq, s + 2);
}

export function ownedInc(seq: u32, cell: u32): void {
  const lo = load<u32>(cell) + 1;
  if (lo != 0) {
    store<u32>(cell, lo);
  } else {
    ownedCarry(seq, cell, 0, 1);
  }
}

export function ownedAdd(seq: u32, cell: u32, lo: u32, hi: u32): void {
  const old = load<u32>(cell);
  const sum = old + lo;
  const carry: u32 = sum < old ? 1 : 0;
  if ((hi | carry) == 0) {
    store<u32>(cell, sum);
  } else {
    ownedCarry(seq, cell, sum, hi + carry);
  }
}

@inline
function readOwned(seq: u32, cell: u32): u64 {
  let hi: u32 = 0;
  let lo: u32 = 0;
  for (let spins = 0; ; spins++) {
    const s1 = atomic.load<u32>(seq);
    hi = atomic.load<u32>(cell + 4);
    lo = atomic.load<u32>(cell);
    const s2 = atomic.load<u32>(seq);
    if ((s1 == s2 && (s1 & 1) == 0) || spins >= SEQ_SPIN_LIMIT) break;
  }
  return (<u64>hi << 32) | <u64>lo;
}

// ---- reads --------------------------------------------------------------------------
// A striped field's value is its shared-stripe cell plus its cell in every owned stripe,
// summed modulo 2^64. `sharedCell` is the field's cell in the shared stripe;
// `firstOwned` the field's cell in owned stripe 0; each owned stripe is `stride` bytes,
// and its sequence word is the first word of the stripe, `cellOffset` bytes before the
// field's cell.

@inline
function sumStriped(sharedCell: u32, firstOwned: u32, cellOffset: u32, stride: u32, stripes: u32): u64 {
  let total = atomic.load<u64>(sharedCell);
  let cell = firstOwned;
  for (let i: u32 = 0; i < stripes; i++) {
    total += readOwned(cell - cellOffset, cell);
    cell += stride;
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

export function readStriped(sharedCell: u32, firstOwned: u32, cellOffset: u32, stride: u32, stripes: u32): f64 {
  return toSafeNumber(sumStriped(sharedCell, firstOwned, cellOffset, stride, stripes));
}

export function readStriped64(sharedCell: u32, firstOwned: u32, cellOffset: u32, stride: u32, stripes: u32): u64 {
  return sumStriped(sharedCell, firstOwned, cellOffset, stride, stripes);
}

// ---- ABI ----------------------------------------------------------------------------
// Bumped whenever an export changes meaning or the host's layout version changes; the
// host refuses a module (e.g. from a handle built by another version) that disagrees.
export function abiVersion(): i32 {
  return 1;
}
