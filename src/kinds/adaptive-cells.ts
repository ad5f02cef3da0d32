/*
 * Contention-adaptive cells: a series that stripes itself once threads collide on it.
 *
 * A series of a counter, a gauge, a histogram or a summary is written by whichever threads
 * use its labels. One shared cell per field is the smallest layout and, as long as one
 * thread at a time writes it, the fastest: one atomic instruction. When two threads write it at the same
 * instant, the cache line that holds it moves between their cores at every write, and an
 * increment costs ten times as much. Striping (a cell per thread, summed on read) removes
 * that cost but multiplies the memory by the stripe count, for every series, contended or
 * not. Which series are contended is a property of the traffic, not of the definition, so
 * this module decides it per series, at run time, in the manner of Java's Striped64
 * (LongAdder): a series starts as its base cells, and the first thread that sees
 * contention on them gives the series a block of stripes, once.
 *
 * The series' cells (the kind's fields, then one word):
 *   +0          the base cells: one u64 per field (a count, or an f64's bits), shared by
 *               every thread, laid out as an unstriped counter set's
 *   +8 fields   the inflation word (i32): NONE (0), REFUSED (1, the registry had no room
 *               for a block), or the byte offset of the series' stripe block
 * The stripe block: one stripe per owned stripe slot of the registry, each laid out as
 * the owned stripe of a striped counter set of the same fields (layout.ts setGeometry:
 * the tagged low words, then the high words, in 128-byte blocks of their own), `stride`
 * bytes apart. Stripe k is written only by the thread holding stripe slot k (slots.ts),
 * with the owned-cell protocol of assembly/counters.ts (plain stores of tagged low words)
 * or, for an f64 field, the owner-only store of assembly/gauges.ts. A gauge's stripe is
 * the one exception: a set clears it from any thread (gauge.ts), so its owner adds to it
 * with the CAS of gaugeAdd, and only its f64 slot (the high one) is used. A kind may ask
 * for bytes of its own after each stripe's cells (`extraBytes`), written by the same
 * owner only and zeroed with the block: a summary keeps its stripe's caches of its time
 * slices there (summary.ts, "Contention"), whose count per bucket is too large to stripe.
 *
 * The signal. LongAdder inflates when a compare-and-swap on its base fails, and that is
 * the one signal of contention that both backends have: the base cells are written by
 * `baseInc`/`baseAdd` (a CAS on the u64, an atomic add after a failure, so the amount
 * lands once either way) and `f64BaseAdd`/`histObserveBase` (the f64 CAS loop that a sum
 * or a gauge's add already needed), each returning whether a swap failed. A swap fails only when another
 * thread wrote the cell between this thread's load and its swap, a window of a few
 * nanoseconds: two threads that take turns on a series, or write it now and then, never
 * inflate it; two that hammer it together do so within a few writes. Uncontended, a CAS
 * costs what the atomic add it replaces cost (one locked instruction on a line the load
 * already brought in).
 *
 * States of a series, and who moves it:
 *   NONE -> block   a thread with an owned stripe whose base write saw contention: it takes
 *                   a zeroed block (the family's free list first, else a fresh one from the
 *                   registry's bump allocator) and publishes it with one CAS on the word.
 *   NONE -> REFUSED the registry had no room for a block: the series stays as it is, exact
 *                   and contended; usage().inflationsRefused counts it, the first refusal
 *                   of a registry is said once (a process warning), and the hot path never
 *                   throws for it.
 *   block -> NONE   only when the series' node is reclaimed (series-table.ts: removed, and
 *                   no thread holds it), which puts the block back on the free list.
 * Each thread's child learns the state at its next write to the base cells: the base ops
 * also return 1 when the word (the 8 bytes after the last base cell, so the ops find it
 * without being told) is set. A thread that waited for a failed swap of its own would
 * never learn: once the first thread writes its stripe, nobody contends on the base. The
 * base cells stay part of the series for good.
 * A thread without an owned stripe (every slot held), one whose series was refused, and
 * one whose stripe was handed back (close, exit) writes the base cells with plain atomic
 * adds from then on, without probing.
 *
 * Reads sum the base cells and, when the word names a block, every stripe of the block,
 * with the orders the kinds already state for striped sets (counter-set.ts: each cell
 * only grows, so the sum lies between the totals when the read began and ended; a
 * histogram reads its sum before its buckets, histogram.ts; a gauge's value moves both
 * ways, and gauge.ts says what a read during a set sees). A reader trusts the word
 * only if it names a block inside the record area (Directory.blockFits); anything else
 * reads as the base cells alone.
 *
 * Races, and why no count is lost:
 *   - Two threads inflate at once: both take a block, one CAS publishes, and the loser
 *     pushes its own block, still zero (nothing was written to it), on the family's free
 *     list, then adopts the published one. Neither wrote a stripe before the CAS.
 *   - A reader during inflation: before the CAS it reads the base cells only, which hold
 *     every count made so far; a block becomes visible zero, and writes reach it only
 *     after its publication, so a reader that sees the word sees at least the base it saw
 *     before. No total ever goes backwards: the word goes NONE -> block once, and every
 *     cell read after it only grows.
 *   - A thread ending while it inflates: a thread is terminated at a function's entry or
 *     a loop's back edge (V8), and in code not yet optimized an Atomics call is a function
 *     entry too (a builtin's): a thread stopped there with its CAS on the free list or the
 *     allocator won, before its CAS on the word, holds a block nobody can name, and that
 *     block is lost (its bytes stay used; counted in inflatedBytes if it came from the
 *     allocator and the count was added). That costs memory only, one block per thread
 *     stopped in that window (the series' first contention, a few instructions), never a
 *     count: the add that saw the contention had landed on the base cells before. A
 *     terminated thread that published a block and then wrote its stripe left counts that
 *     every read includes, and its stripe's next owner continues those cells, as with
 *     striped sets.
 *   - A thread ending with its child in striped mode: its stripe is handed back
 *     (registry-core.ts) after its children retire to the base cells, or, terminated,
 *     when its creator sees the exit; either way the stripe's counts stay in the block.
 *   - A gauge's set racing an inflation: a set reads the word, then clears the stripes of
 *     the block it names (none if none) and stores the base (gauge.ts). An add to a
 *     stripe that finished before the set began was made on a block published before the
 *     set read the word, so the set clears it (an add to the base, the set overwrites); a
 *     block published after that read holds only adds that began after the set did,
 *     racing it, and they are kept, each once (gauge.ts says why that is a set's meaning
 *     under adds that race it). Whether a set or an add saw the block first, the word
 *     moves NONE -> block once, so no add is counted twice.
 *   - Reclaim racing a scrape: the node's gen is odd while it is reclaimed (series-table.ts),
 *     and a reader of a node whose gen moved reads it again, so a block zeroed and reused
 *     under a reader is never summed into the old series.
 * The free list's head is 64 bits, tag:32 | block:32, bumped by every push and pop (the
 * ABA defence of the series table's node lists); a block on the list is zero but for its
 * first word, the link, which the popping thread zeroes before it publishes the block.
 *
 * What it costs. An uncontended series: its base cells and one word, the same memory as
 * `striped: false`, and a CAS where that has an atomic add. A contended one: the block
 * (stripes x stride bytes, counted in usage().inflatedBytes) and, for each thread that
 * learned of it, plain stores to its own stripe: the cost of `striped: true`.
 */
import { RegistryFullError } from '../errors.js';
import { BLOCK, H_INFLATED_BYTES, H_INFLATIONS_REFUSED, alignUp, setGeometry } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';

const NONE = 0;
const REFUSED = 1;

/** Where the cells of an adaptive series of `fields` fields lie, and its block's shape. */
export interface AdaptiveGeometry {
  readonly fields: number;
  /** Bytes from the series' cells to its inflation word. */
  readonly wordAt: number;
  /** Bytes of the series' own cells: the base cells and the word. */
  readonly bytes: number;
  readonly stripes: number;
  /** Bytes from one stripe of the block to the next. */
  readonly stride: number;
  /** Bytes from a stripe's low words to its high words. */
  readonly highOffset: number;
  /** Bytes from a stripe's low words to the kind's own bytes of the stripe (after its high words). */
  readonly extraOffset: number;
  readonly blockBytes: number;
}

/** `extraBytes`: bytes of each stripe after its cells that the kind uses as it likes (a summary's slice caches). */
export function adaptiveGeometry(fields: number, stripes: number, extraBytes = 0): AdaptiveGeometry {
  const g = setGeometry(fields, true, stripes);
  const extraOffset = g.highOffset + fields * 8;
  const stride = alignUp(extraOffset + extraBytes, BLOCK);
  return { fields, wordAt: fields * 8, bytes: fields * 8 + 8, stripes, stride, highOffset: g.highOffset, extraOffset, blockBytes: stripes * stride };
}

/** One thread's view of one family's adaptive series (a kind's spec makes one per metric object). */
export class AdaptiveCells {
  readonly geometry: AdaptiveGeometry;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  // i64 index of the family's free list of blocks, once the family's record is known (bindFamily).
  private free = -1;

  constructor(
    private readonly registry: RegistryCore,
    /** The metric's name (its children's error messages take it from here). */
    readonly metric: string,
    fields: number,
    extraBytes = 0,
  ) {
    this.geometry = adaptiveGeometry(fields, registry.stripes, extraBytes);
    this.i32 = registry.views.i32;
    this.i64 = new BigInt64Array(this.i32.buffer);
  }

  /** @internal The family's record is open: `freeListByte` is its 8-byte free list of blocks. */
  bindFamily(freeListByte: number): void {
    this.free = freeListByte >>> 3;
  }

  /** The stripe block of the series whose cells are at `cells`, or 0 (not inflated, refused, or a word that names no block). */
  block(cells: number): number {
    const b = Atomics.load(this.i32, (cells + this.geometry.wordAt) >>> 2);
    return b > REFUSED && this.registry.directory.blockFits(b, this.geometry.blockBytes) ? b : 0;
  }

  /**
   * Gives the series at `cells` its stripe block if it has none (see the header): the
   * block, or 0 when the series stays on its base cells (refused, or a corrupt word).
   */
  inflate(cells: number): number {
    const w = (cells + this.geometry.wordAt) >>> 2;
    if (Atomics.load(this.i32, w) !== NONE || this.free < 0) return this.block(cells);
    let b = this.pop();
    if (b === 0) {
      try {
        b = this.registry.directory.allocateBlock(this.geometry.blockBytes, `the stripes of a contended series of "${this.metric}"`);
      } catch (e) {
        if (!(e instanceof RegistryFullError)) throw e;
        // Said once per registry, by the thread whose refusal is the first: the count says
        // how many followed. The count decides, not a process-wide set keyed by what two
        // registries of one process may share (a capacity, an address): each says it once.
        if (Atomics.compareExchange(this.i32, w, NONE, REFUSED) === NONE && Atomics.add(this.i32, H_INFLATIONS_REFUSED, 1) === 0) {
          process.emitWarning(
            `atomic-stats: contended series stay on their shared cells (exact, but slower under contention): the registry has no room for their stripes (the first, a series of "${this.metric}", needed ${this.geometry.blockBytes} bytes; usage().inflationsRefused counts them). Create the registry with a larger capacityBytes.`,
            { type: 'AtomicStatsWarning', code: 'ERR_REGISTRY_FULL' },
          );
        }
        return this.block(cells);
      }
      // Between the allocator's CAS and the word's, only Atomics calls: a thread stopped at
      // one of them loses this block (see "A thread ending while it inflates").
      Atomics.add(this.i32, H_INFLATED_BYTES, this.geometry.blockBytes);
    }
    if (Atomics.compareExchange(this.i32, w, NONE, b) === NONE) return b;
    this.push(b); // lost to another inflater: ours is still zero
    return this.block(cells);
  }

  /**
   * Where stripe `stripe` of the series at `cells` starts, its block given first if it has
   * none (inflate): its low words there, its high words `geometry.highOffset` on; or 0 when
   * the series stays on its base cells.
   */
  stripeOf(cells: number, stripe: number): number {
    const b = this.inflate(cells);
    return b === 0 ? 0 : b + stripe * this.geometry.stride;
  }

  /** @internal The series' node is being reclaimed (no thread holds it): its block, zeroed, goes back to the free list. */
  reclaim(cells: number): void {
    const b = this.block(cells);
    Atomics.store(this.i32, (cells + this.geometry.wordAt) >>> 2, NONE);
    if (b === 0 || this.free < 0) return;
    this.registry.views.u8.fill(0, b, b + this.geometry.blockBytes);
    this.push(b);
  }

  /** @internal Blocks on the family's free list now (tests: every block allocated is published or here). */
  freeBlocks(): number {
    if (this.free < 0) return 0;
    let n = 0;
    const limit = Math.floor(this.registry.capacityBytes / this.geometry.blockBytes) + 1;
    for (let b = Number(Atomics.load(this.i64, this.free) & 0xffffffffn); b !== 0 && n < limit; n++) {
      if (!this.registry.directory.blockFits(b, this.geometry.blockBytes)) break;
      b = Atomics.load(this.i32, b >>> 2) >>> 0;
    }
    return n;
  }

  // A zeroed block from the free list, or 0. No call after the CAS that takes it: the
  // caller publishes it next (see the header).
  private pop(): number {
    const i64 = this.i64;
    const limit = Math.floor(this.registry.capacityBytes / this.geometry.blockBytes) + 1;
    for (let n = 0; n < limit; n++) {
      const h = Atomics.load(i64, this.free);
      const b = Number(h & 0xffffffffn);
      if (b === 0 || !this.registry.directory.blockFits(b, this.geometry.blockBytes)) return 0;
      const next = Atomics.load(this.i32, b >>> 2) >>> 0;
      const tagged = BigInt.asIntN(64, (((h >> 32n) + 1n) << 32n) | BigInt(next));
      if (Atomics.compareExchange(i64, this.free, h, tagged) === h) {
        Atomics.store(this.i32, b >>> 2, 0);
        return b;
      }
    }
    return 0;
  }

  private push(b: number): void {
    const i64 = this.i64;
    for (;;) {
      const h = Atomics.load(i64, this.free);
      Atomics.store(this.i32, b >>> 2, Number(h & 0xffffffffn) | 0);
      const tagged = BigInt.asIntN(64, (((h >> 32n) + 1n) << 32n) | BigInt(b));
      if (Atomics.compareExchange(i64, this.free, h, tagged) === h) return;
    }
  }
}
