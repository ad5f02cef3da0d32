/*
 * Counter sets: named sets of u64 counters that every thread of a registry updates and
 * reads without a lock, and the Counter handles that everything else counting (the stats
 * structs, the breaker's counts) is built from.
 *
 * Design. A set is one registry record whose data is laid out once, by its field count
 * and striping (layout.ts setGeometry), and never moves. A plain set is one shared u64 cell
 * per field: every add is a 64-bit atomic add, so every thread contends on the same cache
 * line, which is the right trade for a counter that is rarely updated and read often. A
 * striped set is LongAdder's answer to contention: a shared stripe plus one owned stripe
 * per attachment slot, each in 128-byte blocks of its own (two cache lines, so the
 * adjacent-line prefetcher does not pair two writers' lines), and a read sums them. The
 * fields of one stripe share lines, since a stripe has a single writer, and that keeps a
 * set of many fields small. Unlike LongAdder, the stripes are not grown or rehashed on
 * contention: a stripe belongs to an attachment (slots.ts), not to whichever thread
 * collided, because in shared memory a cell can only be written with plain stores if one
 * thread is known to be its only writer, and that is what makes an owned update cheap.
 *
 * A Counter is one field as seen from one thread: its addresses are computed once, and
 * whether it writes an owned stripe or the shared cells is decided once, by its class
 * (OwnedCounter or SharedCounter), so `inc()` is a property load and one call with no
 * branch on placement, which V8 inlines when the cell operations are the JS twin's.
 * Counts cross to the cell operations as two u32 halves, never as an i64, which would
 * reach JS as a BigInt allocated per call.
 *
 * The owned update is a plain load and store of the low word of the cell, tagged with the
 * high word it belongs to (assembly/counters.ts has the protocol and why one plain-written
 * 32-bit word is all a reader may rely on). It holds only while the high word moves by
 * less than 128 between a reader's two loads, so an owned add takes counts below 2^30
 * (OWNED_ADD_LIMIT) and a larger add goes to the shared stripe with an atomic add: the
 * total is the same, and correctness never depends on the size of an add.
 *
 * Races, and why each is benign:
 *   - a read racing an owner's plain stores gets, for that stripe, exactly a value the
 *     stripe held (the tag), never a mix of two;
 *   - a read of a striped counter loads its S + 1 cells one after another, so it is not
 *     a value the total held at one instant; each cell only grows, so the sum lies between
 *     the total when the read began and the total when it ended (as LongAdder.sum());
 *   - no ordering holds between two counters, even of one set: a snapshot is a series of
 *     such reads, not a transaction, and a struct's derived invariant (executed equals
 *     succeeded plus failed) holds only once its writers are quiet;
 *   - counts wrap modulo 2^64 like a u64 `fetch_add`; `value()` throws rather than round
 *     above 2^53 - 1, `valueBigInt()` is exact.
 *
 * Handing a stripe back. When its registry object closes or its thread ends, the owner
 * calls retireStripe() before it releases the slot: every owned Counter becomes a shared
 * one in place (its prototype is swapped; the shared cell's address is already one of its
 * fields), so handles held anywhere keep working, their later adds are atomic adds to the
 * shared stripe, and the hot methods never test for it. The release and the next holder's
 * claim are atomic operations on the same slot-table word, which orders the old owner's
 * last plain store before the new owner's first, and the new owner continues the cells
 * with their counts. The one-time cost of the swap is that call sites which saw an owned
 * counter become polymorphic; it happens at close or exit, not on a hot path.
 *
 * Sets read from a record of another thread (the collectors' views, sets/records.ts) are
 * made with no owned stripe, so nothing that only reads can ever write a stripe. Field
 * names come from users and from shared memory, so they are kept as Map keys, and a
 * snapshot defines a `__proto__` field as an own property instead of assigning it.
 */
import { TWO32, checkBigCount, checkCount, highWord } from '../count.js';
import { UnknownFieldError, UnsafeIntegerError } from '../errors.js';
import { type SetGeometry, cellAddresses } from '../layout.js';
import type { CellOps } from '../ops/cells.js';

/**
 * One u64 counter of a set. Updates are relaxed with respect to every other counter: no
 * ordering between two counters is promised, even within one set.
 */
export interface Counter {
  readonly field: string;
  /** Adds 1. */
  inc(): void;
  /** Adds `n`, a safe non-negative integer; anything else throws InvalidCountError and adds nothing. */
  add(n: number): void;
  /** Adds `n`, 0 <= n < 2^64; the cell wraps modulo 2^64 like `fetch_add` on a u64. */
  addBigInt(n: bigint): void;
  /** The current total as a number; throws UnsafeIntegerError above 2^53 - 1 rather than rounding. */
  value(): number;
  /** The current total, exact, 0 <= v < 2^64. */
  valueBigInt(): bigint;
}

/** Where a set's cells are, for reading and for this thread's writes. */
export interface SetPlacement {
  readonly setName: string;
  readonly dataOffset: number;
  readonly geometry: SetGeometry;
  /** This thread's owned stripe, or -1 when it writes the shared cells with atomic adds. */
  readonly ownedStripe: number;
}

abstract class CounterBase implements Counter {
  readonly field: string;
  protected readonly ops: CellOps;
  private readonly setName: string;
  // Read geometry. For a plain set only `sharedCell` is used.
  protected readonly sharedCell: number;
  private readonly firstLow: number;
  private readonly firstHigh: number;
  private readonly stride: number;
  private readonly stripes: number;

  constructor(ops: CellOps, p: SetPlacement, index: number, field: string) {
    this.ops = ops;
    this.field = field;
    this.setName = p.setName;
    const g = p.geometry;
    const first = cellAddresses(g, p.dataOffset, index, 0);
    this.sharedCell = first.shared;
    this.firstLow = first.low;
    this.firstHigh = first.high;
    this.stride = g.stride;
    this.stripes = g.stripes;
  }

  abstract inc(): void;
  protected abstract addSplit(lo: number, hi: number): void;

  add(n: number): void {
    // typeof first: `>>>` throws a TypeError on a BigInt or a Symbol.
    if (typeof n === 'number' && (n >>> 0) === n) {
      this.addSplit(n, 0);
      return;
    }
    checkCount(n);
    const hi = highWord(n);
    this.addSplit(n - hi * TWO32, hi);
  }

  addBigInt(n: bigint): void {
    checkBigCount(n);
    this.addSplit(Number(n & 0xffffffffn), Number(n >> 32n));
  }

  value(): number {
    const v =
      this.stripes === 0
        ? this.ops.readShared(this.sharedCell)
        : this.ops.readStriped(this.sharedCell, this.firstLow, this.firstHigh, this.stride, this.stripes);
    if (v < 0) throw new UnsafeIntegerError(this.setName, this.field);
    return v;
  }

  valueBigInt(): bigint {
    return this.stripes === 0
      ? this.ops.readShared64(this.sharedCell)
      : this.ops.readStriped64(this.sharedCell, this.firstLow, this.firstHigh, this.stride, this.stripes);
  }
}

/** Writes a cell any thread may write: a 64-bit atomic add. */
class SharedCounter extends CounterBase {
  inc(): void {
    this.ops.sharedInc(this.sharedCell);
  }
  protected addSplit(lo: number, hi: number): void {
    this.ops.sharedAdd(this.sharedCell, lo, hi);
  }
}

/**
 * Writes this thread's own stripe: a plain load and store (assembly/counters.ts). An add
 * of 2^30 or more goes to the shared stripe instead, which keeps every owned update's
 * step of the high word small enough for readers to place the low word exactly.
 */
class OwnedCounter extends CounterBase {
  private readonly low: number;
  private readonly high: number;
  constructor(ops: CellOps, p: SetPlacement, index: number, field: string) {
    super(ops, p, index, field);
    const mine = cellAddresses(p.geometry, p.dataOffset, index, p.ownedStripe);
    this.low = mine.low;
    this.high = mine.high;
  }
  inc(): void {
    this.ops.ownedInc(this.low, this.high);
  }
  protected addSplit(lo: number, hi: number): void {
    // 0x40000000 = OWNED_ADD_LIMIT, as a literal: a bundled module constant is a `var`
    // V8 reloads on every call (and 2^30 is not a small integer, so it is unboxed too).
    if (hi === 0 && lo < 0x40000000) this.ops.ownedAdd(this.low, this.high, lo);
    else this.ops.sharedAdd(this.sharedCell, lo, hi);
  }
}

function define(out: object, field: string, value: unknown): void {
  Object.defineProperty(out, field, { value, enumerable: true, writable: true, configurable: true });
}

export function makeCounter(ops: CellOps, p: SetPlacement, index: number, field: string): Counter {
  return p.ownedStripe >= 0 ? new OwnedCounter(ops, p, index, field) : new SharedCounter(ops, p, index, field);
}

/**
 * From now on `c` adds atomically to the shared stripe: an owned counter becomes a shared
 * one in place (its prototype is swapped; the shared cell's address is already a field of
 * every counter), so whoever holds it keeps the reference, and the hot methods stay free
 * of any check. Idempotent.
 */
export function retireCounter(c: Counter): void {
  if (c instanceof OwnedCounter) Object.setPrototypeOf(c, SharedCounter.prototype);
}

/**
 * A named set of u64 counters in a registry's shared memory. Every thread that opens the
 * same name gets the same cells. A snapshot reads each counter atomically, one after
 * another: it is not a transaction across counters.
 */
export class CounterSet<F extends string = string> {
  readonly name: string;
  readonly fields: readonly F[];
  readonly striped: boolean;
  private readonly byField: Map<string, Counter>;
  private readonly list: readonly Counter[];
  // Assigning out['__proto__'] would call Object.prototype's setter instead of creating
  // the field, so a set with that field defines its snapshot properties instead.
  private readonly protoField: boolean;

  /** @internal */
  constructor(ops: CellOps, placement: SetPlacement, fields: readonly F[]) {
    this.name = placement.setName;
    this.protoField = fields.includes('__proto__' as F);
    this.fields = Object.freeze([...fields]);
    this.striped = placement.geometry.striped;
    this.list = fields.map((f, i) => makeCounter(ops, placement, i, f));
    this.byField = new Map(this.list.map((c) => [c.field, c]));
  }

  /**
   * @internal From now on every counter of this set adds atomically to the shared stripe
   * (the registry object that owned its stripe is handing it back). An owned counter
   * becomes a shared one in place: callers keep their references, and the hot methods
   * stay free of any check. Idempotent.
   */
  retireStripe(): void {
    for (const c of this.list) retireCounter(c);
  }

  counter(field: F): Counter {
    const c = this.byField.get(field);
    if (c === undefined) throw new UnknownFieldError(this.name, field, this.fields);
    return c;
  }

  /**
   * `{ field: number }`, a plain object with one own property per field (any valid field
   * name, `__proto__` and `constructor` included); throws UnsafeIntegerError if any
   * counter is above 2^53 - 1.
   */
  snapshot(): Record<F, number> {
    const out = {} as Record<F, number>;
    if (this.protoField) {
      for (const c of this.list) define(out, c.field, c.value());
      return out;
    }
    for (const c of this.list) out[c.field as F] = c.value();
    return out;
  }

  /** `{ field: bigint }`, exact for every value; a plain object like `snapshot()`'s. */
  snapshotBigInt(): Record<F, bigint> {
    const out = {} as Record<F, bigint>;
    if (this.protoField) {
      for (const c of this.list) define(out, c.field, c.valueBigInt());
      return out;
    }
    for (const c of this.list) out[c.field as F] = c.valueBigInt();
    return out;
  }
}
