import type { CellOps } from '../backend.js';
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
  F_DURATION,
  F_FAILURE,
  F_REJECTED,
  F_SUCCESS,
  F_TIMES_OPENED,
  F_TOTAL_CALLS,
  OWNED_HIGH_OFFSET,
  NEED_CLOCK,
  PAYLOAD_SHIFT,
  REJECTED,
  SKEW_TICKS,
  SMALL_MASK,
  STATE_CLOSED,
  STATE_HALF_OPEN,
  STATE_OPEN,
  SUCCESS_ONE,
  SUCCESS_SHIFT,
  TICK_MASK,
} from './layout.js';
import type { BreakerOps } from './ops.js';
import { TWO32, highWord } from '../count.js';


function openWord(now: number): number {
  return ((now & TICK_MASK) << PAYLOAD_SHIFT) | STATE_OPEN;
}

function timeoutElapsed(word: number, now: number, timeoutMs: number): boolean {
  const elapsed = (now - (word >>> PAYLOAD_SHIFT)) & TICK_MASK;
  return elapsed >= timeoutMs && elapsed <= TICK_MASK - SKEW_TICKS;
}

/**
 * The pure-JS twin of assembly/breaker.ts: the same machine, step for step, with
 * `Atomics` on an Int32Array of the same memory (sequentially consistent, like Wasm's
 * atomics), and the registry's JS cell operations for the counters, which follow the same
 * owned-stripe protocol as the Wasm core (see backend-js.ts). The reasoning about the
 * state word is in the header of assembly/breaker.ts and is not repeated here.
 *
 * Words are compared as int32: `Atomics.load` and `compareExchange` on an Int32Array
 * return signed values, and every word built here goes through `|` or `<<`, which yield
 * int32 as well, so a word with bit 31 set compares equal to itself.
 */
class JsBreakerOps implements BreakerOps {
  private readonly i32: Int32Array;
  private readonly cellOps: CellOps;

  constructor(i32: Int32Array, cellOps: CellOps) {
    this.i32 = i32;
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

  acquire(ctl: number, stripe: number, successThreshold: number, timeoutMs: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) return ADMITTED;
      if (code === STATE_HALF_OPEN) {
        if (((word >>> CLAIM_SHIFT) & SMALL_MASK) >= successThreshold) break;
        if (Atomics.compareExchange(i32, w, word, (word + CLAIM_ONE) | 0) === word) return ADMITTED;
        continue;
      }
      if (now < 0) return NEED_CLOCK;
      if (code === STATE_OPEN) {
        if (!timeoutElapsed(word, now, timeoutMs)) break;
        if (Atomics.compareExchange(i32, w, word, STATE_HALF_OPEN | CLAIM_ONE) === word) {
          Atomics.notify(i32, w);
          return ADMITTED;
        }
        continue;
      }
      if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) break;
    }
    this.bump(ctl, stripe, F_REJECTED);
    return REJECTED;
  }

  success(ctl: number, stripe: number, durationNanos: number, successThreshold: number): number {
    this.bump(ctl, stripe, F_TOTAL_CALLS);
    this.bump(ctl, stripe, F_SUCCESS);
    this.addDuration(ctl, stripe, durationNanos);
    const i32 = this.i32;
    const w = ctl >>> 2;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) {
        if (word === STATE_CLOSED || Atomics.compareExchange(i32, w, word, STATE_CLOSED) === word) return DONE;
        continue;
      }
      if (code !== STATE_HALF_OPEN) return DONE;
      if (((word >>> SUCCESS_SHIFT) & SMALL_MASK) + 1 >= successThreshold) {
        if (Atomics.compareExchange(i32, w, word, STATE_CLOSED) === word) {
          Atomics.notify(i32, w);
          return CHANGED;
        }
      } else if (Atomics.compareExchange(i32, w, word, (word + SUCCESS_ONE) | 0) === word) {
        return DONE;
      }
    }
  }

  failure(ctl: number, stripe: number, durationNanos: number, failureThreshold: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    let result = DONE;
    for (;;) {
      const word = Atomics.load(i32, w);
      const code = word & CODE_MASK;
      if (code === STATE_CLOSED) {
        const failures = (word >>> PAYLOAD_SHIFT) + 1;
        if (failures < failureThreshold) {
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
      if (code !== STATE_HALF_OPEN) break;
      if (now < 0) return NEED_CLOCK;
      if (Atomics.compareExchange(i32, w, word, openWord(now)) === word) {
        this.opened(ctl, stripe);
        result = CHANGED;
        break;
      }
    }
    this.bump(ctl, stripe, F_TOTAL_CALLS);
    this.bump(ctl, stripe, F_FAILURE);
    this.addDuration(ctl, stripe, durationNanos);
    return result;
  }

  force(ctl: number, stripe: number, target: number, now: number): number {
    const i32 = this.i32;
    const w = ctl >>> 2;
    const next = target === STATE_CLOSED ? STATE_CLOSED : openWord(now);
    for (;;) {
      const word = Atomics.load(i32, w);
      if (Atomics.compareExchange(i32, w, word, next) !== word) continue;
      const code = word & CODE_MASK;
      if (target === STATE_CLOSED) {
        if (code === STATE_CLOSED) return DONE;
        Atomics.notify(i32, w);
        return CHANGED;
      }
      if (code === STATE_CLOSED) Atomics.store(i32, (ctl + C_TRIP) >>> 2, word >>> PAYLOAD_SHIFT);
      if (code === STATE_CLOSED || code === STATE_HALF_OPEN) {
        this.opened(ctl, stripe);
        return CHANGED;
      }
      return DONE;
    }
  }
}

const cache = new WeakMap<Int32Array, BreakerOps>();

/** The JS backend for the registry whose memory `i32` views, counting through `cellOps`. */
export function jsBreakerOps(i32: Int32Array, cellOps: CellOps): BreakerOps {
  let ops = cache.get(i32);
  if (ops === undefined) {
    ops = new JsBreakerOps(i32, cellOps);
    cache.set(i32, ops);
  }
  return ops;
}
