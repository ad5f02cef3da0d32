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
