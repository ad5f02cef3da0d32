import type { CellOps } from './cells.js';
import { ownedRecordCarrying } from './cells-js.js';
import {
  ADMITTED,
  CHANGED,
  CLAIM_ONE,
  CLAIM_SHIFT,
  CODE_MASK,
  CONTROL_BYTES,
  C_TRIP,
  DONE,
  FAILURE_ONE,
  FAILURES_FIELD,
  F_DURATION,
  F_FAILURE,
  F_REJECTED,
  F_SUCCESS,
  F_TIMES_OPENED,
  F_TOTAL_CALLS,
  LEASE_UNITS_LOG2,
  OWNED_HIGH_OFFSET,
  NEED_CLOCK,
  PAYLOAD_SHIFT,
  PERMIT_CLOSED,
  REJECTED,
  SKEW_TICKS,
  SMALL_MASK,
  STAMP_MASK,
  STAMP_SHIFT,
  STATE_CLOSED,
  STATE_HALF_OPEN,
  STATE_OPEN,
  SUCCESS_ONE,
  SUCCESS_SHIFT,
  TICK_MASK,
} from './breaker-layout.js';
import type { BreakerOps } from './breaker.js';
import { closedWordAt, floorSpent, windowAdd, windowTrips } from './breaker-window.js';
import { TWO32, highWord } from '../count.js';

function openWord(now: number): number {
  return ((now & TICK_MASK) << PAYLOAD_SHIFT) | STATE_OPEN;
}

function timeoutElapsed(word: number, now: number, timeoutMs: number): boolean {
  const elapsed = (now - (word >>> PAYLOAD_SHIFT)) & TICK_MASK;
  return elapsed >= timeoutMs && elapsed <= TICK_MASK - SKEW_TICKS;
}

function leaseShift(probeLeaseMs: number): number {
  const s = 32 - Math.clz32(probeLeaseMs - 1) - LEASE_UNITS_LOG2;
  return s > 0 ? s : 0;
}

function periodStamp(open: number, now: number, probeLeaseMs: number): number {
  const s = leaseShift(probeLeaseMs);
  const fromNow = (now + (1 << s)) >>> s;
  const afterOpen = ((open >>> PAYLOAD_SHIFT) >>> s) + 2;
  return (((fromNow - afterOpen) & STAMP_MASK) > STAMP_MASK >>> 1 ? afterOpen : fromNow) & STAMP_MASK;
}

function leaseExpired(word: number, now: number, probeLeaseMs: number): boolean {
  const s = leaseShift(probeLeaseMs);
  const lease = (probeLeaseMs + (1 << s) - 1) >>> s;
  const elapsed = ((now >>> s) - (word >>> STAMP_SHIFT)) & STAMP_MASK;
  return elapsed >= lease && elapsed <= STAMP_MASK - (SKEW_TICKS >>> s) - 3;
}

function probePermit(word: number): number {
  return ((word >>> STAMP_SHIFT) << 2) | 3;
}

function inPeriod(word: number, permit: number): boolean {
  if (permit === 0) return true;
  return permit !== PERMIT_CLOSED && permit >>> 2 === word >>> STAMP_SHIFT;
}

/*
 * A call's record on this thread's owned stripe (the guard's success as small as the Wasm
 * export's, cbSuccess in assembly/breaker.ts; a failure, or a success with a permit, the
 * same way).
 *
 * Counters: the owned stripe takes the three updates (total_calls, `field`: success_count
 * 1 or failure_count 2, total_duration_nanos) as plain loads and stores of tagged low words,
 * the common case of the owned-cell protocol of assembly/counters.ts, written out here
 * as in stats-js.ts (JsOwnedKernels) so that TurboFan inlines them into the
 * caller instead of making three calls into the cell operations, each reloading its
 * typed-array view. The record is whole or absent in a thread terminated at any instant,
 * as the stats records are (stats-js.ts says why): every cell is loaded and summed first,
 * and stored with no call between the first store and the last; a record in which a cell
 * carries out of its 24-bit low part (once per 2^24 units) goes whole, before any store,
 * to ownedRecordCarrying. The caller sends here only durations below 2^30
 * (OWNED_ADD_LIMIT), so each t stays below 2^31 and the OR of them is at most 0xffffff
 * exactly when every one is.
 *
 * State: like the Wasm export, the counters first, then the state word. A Closed breaker
 * with no consecutive failures and the rate window off has the word 0, and a success then
 * has nothing to write: no read-modify-write is made, so a guard on a healthy breaker
 * never writes the word's cache line. That one decision is taken on a plain (non-atomic)
 * read of the word; every other outcome goes to successState, which starts again from a
 * seq-cst load and changes the word only by CAS. Why a plain read: Atomics.load is a
 * builtin call on Node 20 (about 6 ns here, against under 1 ns for the plain read, and
 * more than a call into Wasm), and it was most of what the JS guard cost over the Wasm
 * one. Why it is sound:
 * - an aligned Int32Array read does not tear (ECMA-262 IsNoTearConfiguration), so it
 *   returns a word some thread wrote, never a mix;
 * - it is at least as fresh as this thread's last synchronizing operation: in the guard,
 *   tryAcquire's seq-cst load of the same word. Any write that load saw, or that
 *   happened before it, happens before the plain read, which cannot then read an older
 *   word (the memory model's coherent reads). So the success acts on the word tryAcquire
 *   admitted it on or a later one, exactly as if its own seq-cst load had been made a
 *   moment earlier; a write of another thread not ordered with this one is concurrent
 *   with the record under either load;
 * - reading a stale 0 where failures were just counted only means this success is
 *   ordered before that failure, which a seq-cst load could also observe; and nothing is
 *   written on the strength of the plain read, so a stale value cannot overwrite a newer
 *   word (every write is a CAS against a seq-cst load).
 * A compiler may not keep the read in a register across the record either: the counter
 *   stores just before it go to the same buffer, which it must assume may alias the word.
 *
 * Field offsets and masks are literals, not the layout's named constants: the bundler
 * turns module constants into `var`s that V8 reloads on every use (see stats-js.ts).
 * Fields: total_calls 0, success_count 1, failure_count 2, total_duration_nanos 3
 * (breaker-layout.ts F_*); a low word at stripe + 4 * field, its high word at stripe + 24
 * (OWNED_HIGH_OFFSET) + 8 * field.
 */
function countOwned(u: Uint32Array, u64: BigUint64Array, stripe: number, field: number, durationNanos: number): void {
  const i = stripe >>> 2;
  // Truncated like i64.trunc_sat_f64_u; 0 <= d < 2^30 (checked by the caller).
  const d = Math.floor(durationNanos);
  const w0 = u[i]!;
  const w1 = u[i + field]!;
  const w3 = u[i + 3]!;
  const t0 = (w0 & 0xffffff) + 1;
  const t1 = (w1 & 0xffffff) + 1;
  const t3 = (w3 & 0xffffff) + d;
  if ((t0 | t1 | t3) <= 0xffffff) {
    u[i] = (w0 & -16777216) | t0;
    u[i + field] = (w1 & -16777216) | t1;
    if (d !== 0) u[i + 3] = (w3 & -16777216) | t3;
  } else ownedRecordCarrying(u, u64, stripe, stripe + 24, [0, field, 3], [1, 1, d]);
}

/**
 * The state half of a success without a permit, window off, from a seq-cst load of the
 * word: clears consecutive failures while Closed (a CAS only when there are some), counts
 * a successful probe while HalfOpen, or closes the breaker on the last one. DONE or
 * CHANGED. The same steps as cbSuccess's loop in assembly/breaker.ts.
 */
function successState(i32: Int32Array, w: number, successThreshold: number): number {
  for (;;) {
    const word = Atomics.load(i32, w);
    const code = word & CODE_MASK;
    if (code === STATE_CLOSED) {
      if (word === STATE_CLOSED || Atomics.compareExchange(i32, w, word, word & ~FAILURES_FIELD) === word) return DONE;
    } else if (code !== STATE_HALF_OPEN) {
      return DONE;
    } else if (((word >>> SUCCESS_SHIFT) & SMALL_MASK) + 1 >= successThreshold) {
      if (Atomics.compareExchange(i32, w, word, STATE_CLOSED) === word) {
        Atomics.notify(i32, w);
        return CHANGED;
      }
    } else if (Atomics.compareExchange(i32, w, word, (word + SUCCESS_ONE) | 0) === word) {
      return DONE;
    }
  }
}

/**
 * The pure-JS twin of assembly/breaker.ts: the same machine, step for step, with
 * `Atomics` on an Int32Array of the same memory (sequentially consistent, like Wasm's
 * atomics), and the registry's JS cell operations for the counters, which follow the same
 * owned-stripe protocol as the Wasm core (see cells-js.ts). The reasoning about the
 * state word is in the header of assembly/breaker.ts and is not repeated here.
 *
 * Words are compared as int32: `Atomics.load` and `compareExchange` on an Int32Array
 * return signed values, and every word built here goes through `|` or `<<`, which yield
 * int32 as well, so a word with bit 31 set compares equal to itself.
 */
class JsBreakerOps implements BreakerOps {
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly cellOps: CellOps;

  constructor(i32: Int32Array, cellOps: CellOps) {
    this.i32 = i32;
    this.i64 = new BigInt64Array(i32.buffer);
    this.u32 = new Uint32Array(i32.buffer);
    this.u64 = new BigUint64Array(i32.buffer);
    this.cellOps = cellOps;
  }

  private bump(ctl: number, stripe: number, field: number): void {
    if (stripe !== 0) this.cellOps.ownedInc(stripe + field * 4, stripe + OWNED_HIGH_OFFSET + field * 8);
    else this.cellOps.sharedInc(ctl + CONTROL_BYTES + field * 8);
  }

  private addDuration(ctl: number, stripe: number, nanos: number): void {
    // Validated by the caller: finite, 0 <= nanos < 2^64. Truncate like i64.trunc_sat_f64_u.
    const d = Math.floor(nanos);
    if (stripe !== 0 && d < 0x40000000 /* OWNED_ADD_LIMIT, literal: see counter-set.ts */) {
      this.cellOps.ownedAdd(stripe + F_DURATION * 4, stripe + OWNED_HIGH_OFFSET + F_DURATION * 8, d);
    } else {
      const hi = highWord(d);
      this.cellOps.sharedAdd(ctl + CONTROL_BYTES + F_DURATION * 8, d - hi * TWO32, hi);
    }
  }

  private opened(ctl: number, stripe: number): void {
    this.bump(ctl, stripe, F_TIMES_OPENED);
    Atomics.notify(this.i32, ctl >>> 2);
  }

  // A record on the owned stripe is whole or absent (countOwned); one on the shared stripe
  // (a thread without a stripe) is three atomic adds, and a thread terminated between two
  // of them leaves it cut.
  private record(ctl: number, stripe: number, durationNanos: number, field: number): void {
    if (stripe !== 0 && durationNanos < 1073741824) {
      countOwned(this.u32, this.u64, stripe, field, durationNanos);
      return;
    }
    this.bump(ctl, stripe, F_TOTAL_CALLS);
    this.bump(ctl, stripe, field);
    this.addDuration(ctl, stripe, durationNanos);
  }

  // The Closed answer is this short head, small enough for TurboFan to inline into
  // tryAcquire; the rest of the machine is acquireFrom.
  acquire(ctl: number, stripe: number, successThreshold: number, timeoutMs: number, probeLeaseMs: number, now: number): number {
    if ((Atomics.load(this.i32, ctl >>> 2) & 3) === 0) return 1; // Closed: PERMIT_CLOSED (ADMITTED)
    return this.acquireFrom(ctl, stripe, successThreshold, timeoutMs, probeLeaseMs, now);
  }

  private acquireFrom(ctl: number, stripe: number, successThreshold: number, timeoutMs: number, probeLeaseMs: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) return ADMITTED;
      if (code === STATE_HALF_OPEN) {
        const claims = (word >>> CLAIM_SHIFT) & SMALL_MASK;
        if (claims > ((word >>> SUCCESS_SHIFT) & SMALL_MASK)) {
          if (now < 0) return NEED_CLOCK;
          if (leaseExpired(word, now, probeLeaseMs)) {
            if (Atomics.compareExchange(i32, w, word, openWord(now + 1)) === word) {
              this.opened(ctl, stripe);
              break;
            }
            continue;
          }
        }
        if (claims >= successThreshold) break;
        if (Atomics.compareExchange(i32, w, word, (word + CLAIM_ONE) | 0) === word) return probePermit(word);
        continue;
      }
      if (now < 0) return NEED_CLOCK;
      if (code === STATE_OPEN) {
        if (!timeoutElapsed(word, now, timeoutMs)) break;
        const next = STATE_HALF_OPEN | CLAIM_ONE | (periodStamp(word, now, probeLeaseMs) << STAMP_SHIFT);
        if (Atomics.compareExchange(i32, w, word, next) === word) {
          Atomics.notify(i32, w);
          return probePermit(next);
        }
        continue;
      }
      if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) break;
    }
    this.bump(ctl, stripe, F_REJECTED);
    return REJECTED;
  }

  // successWith(..., no permit, window off), written out: the guard's hot path. With an
  // owned stripe and a duration below 2^30 (nearly always), the three counters are
  // updated inline (countOwned); otherwise through the cell operations.
  success(ctl: number, stripe: number, durationNanos: number, successThreshold: number): number {
    if (stripe !== 0 && durationNanos < 1073741824) countOwned(this.u32, this.u64, stripe, 1, durationNanos);
    else this.record(ctl, stripe, durationNanos, F_SUCCESS);
    const word = this.i32[ctl >>> 2]!;
    return word === 0 ? 0 : successState(this.i32, ctl >>> 2, successThreshold); // see countOwned: the plain read
  }

  successWith(ctl: number, stripe: number, durationNanos: number, successThreshold: number, permit: number, rate: number, minimumCalls: number, windowMs: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    let result = DONE;
    let windowed = false;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) {
        if (permit > PERMIT_CLOSED) break;
        if (windowMs !== 0) {
          if (now < 0) return NEED_CLOCK;
          if (!windowed) {
            windowAdd(this.i64, ctl, now, windowMs, false);
            windowed = true;
          }
          if (floorSpent(word, now, windowMs)) {
            Atomics.compareExchange(i32, w, word, word & (FAILURES_FIELD | CODE_MASK));
            continue;
          }
          if (windowTrips(this.i64, ctl, now, windowMs, word, rate, minimumCalls)) {
            if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) {
              Atomics.store(i32, (ctl + C_TRIP) >>> 2, 0);
              this.opened(ctl, stripe);
              result = CHANGED;
              break;
            }
            continue;
          }
        }
        if ((word & FAILURES_FIELD) === 0 || Atomics.compareExchange(i32, w, word, word & ~FAILURES_FIELD) === word) break;
        continue;
      }
      if (code !== STATE_HALF_OPEN || !inPeriod(word, permit)) break;
      const successes = (word >>> SUCCESS_SHIFT) & SMALL_MASK;
      if (permit !== 0 && successes >= ((word >>> CLAIM_SHIFT) & SMALL_MASK)) break;
      if (successes + 1 >= successThreshold) {
        let next = STATE_CLOSED;
        if (windowMs !== 0) {
          if (now < 0) return NEED_CLOCK;
          next = closedWordAt(now, windowMs);
        }
        if (Atomics.compareExchange(i32, w, word, next) === word) {
          Atomics.notify(i32, w);
          result = CHANGED;
          break;
        }
      } else if (Atomics.compareExchange(i32, w, word, (word + SUCCESS_ONE) | 0) === word) {
        break;
      }
    }
    this.record(ctl, stripe, durationNanos, F_SUCCESS);
    return result;
  }

  failure(ctl: number, stripe: number, durationNanos: number, failureThreshold: number, now: number): number {
    return this.failureWith(ctl, stripe, durationNanos, failureThreshold, 0, 0, 0, 0, now);
  }

  failureWith(ctl: number, stripe: number, durationNanos: number, failureThreshold: number, permit: number, rate: number, minimumCalls: number, windowMs: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    let result = DONE;
    let windowed = false;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) {
        if (permit > PERMIT_CLOSED) break;
        const failures = ((word & FAILURES_FIELD) >>> PAYLOAD_SHIFT) + 1;
        let trip = failures >= failureThreshold;
        if (windowMs !== 0) {
          if (now < 0) return NEED_CLOCK;
          if (!windowed) {
            windowAdd(this.i64, ctl, now, windowMs, true);
            windowed = true;
          }
          if (floorSpent(word, now, windowMs)) {
            Atomics.compareExchange(i32, w, word, word & (FAILURES_FIELD | CODE_MASK));
            continue;
          }
          if (!trip) trip = windowTrips(this.i64, ctl, now, windowMs, word, rate, minimumCalls);
        }
        if (!trip) {
          if (Atomics.compareExchange(i32, w, word, (word + FAILURE_ONE) | 0) === word) break;
          continue;
        }
        if (now < 0) return NEED_CLOCK;
        if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) {
          Atomics.store(i32, (ctl + C_TRIP) >>> 2, failures);
          this.opened(ctl, stripe);
          result = CHANGED;
          break;
        }
        continue;
      }
      if (code !== STATE_HALF_OPEN || !inPeriod(word, permit)) break;
      if (permit !== 0 && ((word >>> SUCCESS_SHIFT) & SMALL_MASK) >= ((word >>> CLAIM_SHIFT) & SMALL_MASK)) break;
      if (now < 0) return NEED_CLOCK;
      if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) {
        this.opened(ctl, stripe);
        result = CHANGED;
        break;
      }
    }
    this.record(ctl, stripe, durationNanos, F_FAILURE);
    return result;
  }

  force(ctl: number, stripe: number, target: number, windowMs: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    const next = target === STATE_CLOSED ? (windowMs !== 0 ? closedWordAt(now, windowMs) : STATE_CLOSED) : openWord(now);
    for (;;) {
      const word = Atomics.load(i32, w);
      if (Atomics.compareExchange(i32, w, word, next) !== word) continue;
      const code = word & CODE_MASK;
      if (target === STATE_CLOSED) {
        if (code === STATE_CLOSED) return DONE;
        Atomics.notify(i32, w);
        return CHANGED;
      }
      if (code === STATE_CLOSED) Atomics.store(i32, (ctl + C_TRIP) >>> 2, (word & FAILURES_FIELD) >>> PAYLOAD_SHIFT);
      if (code === STATE_CLOSED || code === STATE_HALF_OPEN) {
        this.opened(ctl, stripe);
        return CHANGED;
      }
      return DONE;
    }
  }
}

/** The JS twin for the registry memory that `i32` views, counting through `cellOps`. */
export function jsBreakerOps(i32: Int32Array, cellOps: CellOps): BreakerOps {
  return new JsBreakerOps(i32, cellOps);
}

/**
 * The guard's success split by case, for 'auto' (bind.ts): with an owned stripe and a
 * duration below 2^30 ns, the JS path above (three plain stores and one plain load with
 * nothing to decide in the common case, which inlined into the caller costs less than the
 * crossing into Wasm alone); otherwise `core`, the Wasm export, where the atomic adds to
 * the shared stripe are one call instead of the three a JS record makes through the cell
 * operations.
 */
export function splitSuccess(core: BreakerOps['success'], i32: Int32Array): BreakerOps['success'] {
  const u32 = new Uint32Array(i32.buffer);
  const u64 = new BigUint64Array(i32.buffer);
  return (ctl, stripe, durationNanos, successThreshold) => {
    if (stripe === 0 || !(durationNanos < 1073741824)) return core(ctl, stripe, durationNanos, successThreshold);
    countOwned(u32, u64, stripe, 1, durationNanos);
    const word = i32[ctl >>> 2]!;
    return word === 0 ? 0 : successState(i32, ctl >>> 2, successThreshold); // see countOwned: the plain read
  };
}
