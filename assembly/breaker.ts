/*
 * The circuit breaker's state machine, on a record the host laid out (src/breaker/layout.ts
 * is the other half of this contract; the two must agree bit for bit, because a 'js'
 * thread runs the same machine on the same words with Atomics, src/breaker/ops-js.ts).
 *
 * Why one word. Every decision the machine makes (admit? open? close?) depends on the
 * state *and* on one small number that belongs to that state: the consecutive failures
 * while Closed, the instant it opened while Open, the admitted probes and the successes
 * while HalfOpen. Kept in separate words, each of those numbers needs resetting when the
 * state changes, and a thread that reads the new state before the reset lands decides on
 * a stale number: an extra probe admitted, a breaker that half-opens at once because it
 * sees the previous opening's time, a failure from a finished Closed period that opens a
 * new one. Packed into the one state word, every transition replaces state and number in a
 * single compare-and-swap, so a thread either sees the old pair or the new pair, and each
 * transition is won by exactly one thread: the one whose CAS succeeds.
 *
 *   bits 0..1   state code: 0 Closed, 1 Open, 2 HalfOpen, 3 unknown (reads as Open)
 *   Closed      bits 2..31  consecutive failures (< failureThreshold <= 100)
 *   Open        bits 2..31  opened_at, in ms of the shared clock, modulo 2^30
 *   HalfOpen    bits 2..7   probes admitted in this half-open period (<= successThreshold)
 *               bits 8..13  successes recorded in this half-open period (< successThreshold)
 *
 * There is no ABA problem to guard against: a CAS that succeeds replaces a word whose
 * every bit the decision was computed from, so it is correct no matter what happened in
 * between (a HalfOpen word with c claims admits a probe iff c < k, whichever half-open
 * period it belongs to). Open words differ by their stamp, so an Open that went through
 * HalfOpen and back is a different word unless exactly 2^30 ms passed meanwhile.
 *
 * opened_at modulo 2^30 ms (12.4 days). Elapsed time is (now - opened_at) mod 2^30. Two
 * consequences, both documented for users: (1) a breaker left Open and not called for
 * more than 12.4 days can, for at most timeout + 1 s in every 12.4 days, see a small
 * elapsed time and reject; the next call after that window is admitted. (2) threads read
 * the same clock (see src/breaker/clock.ts), but a thread may read it a hair behind the
 * one that stamped the word; the difference then wraps to just below 2^30, which is taken
 * as "not yet" rather than "12 days": any elapsed value within SKEW_TICKS of 2^30 is
 * treated as negative.
 *
 * Time crosses the boundary as an i32 of ticks (ms modulo 2^30, never negative); the
 * host passes NO_CLOCK (-1) on the hot path, and an export that finds it needs the time
 * returns NEED_CLOCK having changed nothing, so reading the clock (tens of ns in Node)
 * is paid only while the breaker is Open or about to open.
 *
 * Counters (total_calls ... times_opened) are the registry's striped u64 cells (see
 * counters.ts), right after the control block: the shared stripe at ctl + 128, then the
 * owned stripes. `stripe` is this thread's owned stripe (plain stores, one writer), or 0
 * for a thread without one, which adds atomically to the shared stripe; a duration of
 * 2^30 ns or more also goes to the shared stripe, as counters.ts requires of owned adds.
 * No decision reads a counter, so they need no ordering with the state word; a snapshot
 * is not a transaction. Durations arrive as f64 nanoseconds already validated by the
 * host (finite, 0 <= d < 2^64) and are truncated to an integer (i64.trunc_sat_f64_u), the
 * same value the JS twin computes with Math.floor.
 *
 * Memory ordering: Wasm atomics are sequentially consistent, which is what the CAS loops
 * need and more. The one non-atomic-looking step is the transition's side effects (the
 * trip count, times_opened, notify) after the winning CAS; they are display and
 * notification only, and no decision depends on them.
 *
 * Waking waiters. Every change of the state code ends with memory.atomic.notify on the
 * word, which wakes Atomics.waitAsync waiters of every thread (src/breaker/notify.ts).
 * Changes of the number alone (a claim, a failure count) do not notify: watchers only
 * report state changes, and a watcher that re-arms with a stale word returns at once.
 */
import { ownedAdd, ownedInc } from './counters';

// State codes (bits 0..1 of the word).
const CLOSED: i32 = 0;
const OPEN: i32 = 1;
const HALF_OPEN: i32 = 2;
const CODE_MASK: i32 = 3;

const PAYLOAD_SHIFT: i32 = 2;
const TICK_MASK: i32 = 0x3fffffff;
const SKEW_TICKS: i32 = 1024;
const FAILURE_ONE: i32 = 1 << PAYLOAD_SHIFT;
const CLAIM_SHIFT: i32 = 2;
const CLAIM_ONE: i32 = 1 << CLAIM_SHIFT;
const SUCCESS_SHIFT: i32 = 8;
const SUCCESS_ONE: i32 = 1 << SUCCESS_SHIFT;
const SMALL_MASK: i32 = 63;

// Control block (data offset + 0): the state word, then the trip count (consecutive
// failures when it last opened from Closed, shown while not Closed).
const C_TRIP: u32 = 4;

// Counter fields, in the order of src/breaker/layout.ts. Shared cell of field i: ctl +
// SHARED_CELLS + 8i. In an owned stripe: low word at stripe + 4i, high word at stripe +
// OWNED_HIGH + 8i (layout.ts setGeometry for 6 fields; the host checks the constant).
const F_TOTAL_CALLS: u32 = 0;
const F_SUCCESS: u32 = 1;
const F_FAILURE: u32 = 2;
const F_DURATION: u32 = 3;
const F_REJECTED: u32 = 4;
const F_TIMES_OPENED: u32 = 5;
const SHARED_CELLS: u32 = 128;
const OWNED_HIGH: u32 = 24;
const OWNED_ADD_LIMIT: u64 = 1 << 30;

// Results.
const REJECTED: i32 = 0;
const ADMITTED: i32 = 1;
const NEED_CLOCK: i32 = 2;
const DONE: i32 = 0;
const CHANGED: i32 = 1;

@inline
function bump(ctl: u32, stripe: u32, field: u32): void {
  if (stripe != 0) ownedInc(stripe + field * 4, stripe + OWNED_HIGH + field * 8);
  else atomic.add<u64>(ctl + SHARED_CELLS + field * 8, 1);
}

@inline
function addDuration(ctl: u32, stripe: u32, nanos: f64): void {
  const d = <u64>nanos;
  if (stripe != 0 && d < OWNED_ADD_LIMIT) ownedAdd(stripe + F_DURATION * 4, stripe + OWNED_HIGH + F_DURATION * 8, <u32>d);
  else atomic.add<u64>(ctl + SHARED_CELLS + F_DURATION * 8, d);
}

@inline
function openWord(now: i32): i32 {
  return ((now & TICK_MASK) << PAYLOAD_SHIFT) | OPEN;
}

@inline
function timeoutElapsed(word: i32, now: i32, timeoutMs: i32): bool {
  const elapsed = (now - (word >>> PAYLOAD_SHIFT)) & TICK_MASK;
  return elapsed >= timeoutMs && elapsed <= TICK_MASK - SKEW_TICKS;
}

// A transition into Open (from Closed or HalfOpen) has been won by this thread.
@inline
function opened(ctl: u32, stripe: u32): void {
  bump(ctl, stripe, F_TIMES_OPENED);
  atomic.notify(ctl, -1);
}

/**
 * Asks for a permit. ADMITTED, REJECTED (counted in rejected_calls), or NEED_CLOCK when
 * the breaker is Open and `now` is NO_CLOCK (nothing changed; ask again with the time).
 * In Open, the first caller to see the timeout elapsed moves it to HalfOpen holding the
 * first probe; in HalfOpen a probe is admitted by a CAS that raises the claim count while
 * it is below `successThreshold`, so the claims of all threads together never exceed it.
 */
export function cbAcquire(ctl: u32, stripe: u32, successThreshold: i32, timeoutMs: i32, now: i32): i32 {
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) return ADMITTED;
    if (code == HALF_OPEN) {
      if (((w >>> CLAIM_SHIFT) & SMALL_MASK) >= successThreshold) break;
      if (atomic.cmpxchg<i32>(ctl, w, w + CLAIM_ONE) == w) return ADMITTED;
      continue;
    }
    if (now < 0) return NEED_CLOCK;
    if (code == OPEN) {
      if (!timeoutElapsed(w, now, timeoutMs)) break;
      if (atomic.cmpxchg<i32>(ctl, w, HALF_OPEN | CLAIM_ONE) == w) {
        atomic.notify(ctl, -1);
        return ADMITTED;
      }
      continue;
    }
    // An unknown code (memory written by something else) reads as Open. Give it a proper
    // Open word stamped now, so it recovers through the normal timeout; it read as Open
    // before and after, so this is not a state change: not counted, not notified.
    if (atomic.cmpxchg<i32>(ctl, w, openWord(now)) == w) break;
  }
  bump(ctl, stripe, F_REJECTED);
  return REJECTED;
}

/**
 * Records a success: the counters, then Closed: consecutive failures back to 0 (written
 * only when not already 0, so the common case leaves the word's cache line shared);
 * HalfOpen: one more success, and the thread whose success reaches `successThreshold`
 * closes it. Returns CHANGED when this call closed the breaker.
 */
export function cbSuccess(ctl: u32, stripe: u32, durationNanos: f64, successThreshold: i32): i32 {
  bump(ctl, stripe, F_TOTAL_CALLS);
  bump(ctl, stripe, F_SUCCESS);
  addDuration(ctl, stripe, durationNanos);
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) {
      if (w == CLOSED || atomic.cmpxchg<i32>(ctl, w, CLOSED) == w) return DONE;
      continue;
    }
    if (code != HALF_OPEN) return DONE;
    if (((w >>> SUCCESS_SHIFT) & SMALL_MASK) + 1 >= successThreshold) {
      if (atomic.cmpxchg<i32>(ctl, w, CLOSED) == w) {
        atomic.notify(ctl, -1);
        return CHANGED;
      }
    } else if (atomic.cmpxchg<i32>(ctl, w, w + SUCCESS_ONE) == w) {
      return DONE;
    }
  }
  return DONE; // not reached: the loop only returns
}

/**
 * Records a failure. Closed: one more consecutive failure, and the thread whose failure
 * reaches `failureThreshold` opens it; HalfOpen: opens it at once. Opening needs the
 * time: with NO_CLOCK this returns NEED_CLOCK before changing anything (counters
 * included), and the host calls again with it. Returns CHANGED when this call opened it.
 */
export function cbFailure(ctl: u32, stripe: u32, durationNanos: f64, failureThreshold: i32, now: i32): i32 {
  let result = DONE;
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) {
      const failures = (w >>> PAYLOAD_SHIFT) + 1;
      if (failures < failureThreshold) {
        if (atomic.cmpxchg<i32>(ctl, w, w + FAILURE_ONE) == w) break;
        continue;
      }
      if (now < 0) return NEED_CLOCK;
      if (atomic.cmpxchg<i32>(ctl, w, openWord(now)) == w) {
        atomic.store<i32>(ctl + C_TRIP, failures);
        opened(ctl, stripe);
        result = CHANGED;
        break;
      }
      continue;
    }
    if (code != HALF_OPEN) break;
    if (now < 0) return NEED_CLOCK;
    if (atomic.cmpxchg<i32>(ctl, w, openWord(now)) == w) {
      opened(ctl, stripe);
      result = CHANGED;
      break;
    }
  }
  bump(ctl, stripe, F_TOTAL_CALLS);
  bump(ctl, stripe, F_FAILURE);
  addDuration(ctl, stripe, durationNanos);
  return result;
}

/**
 * forceOpen (target OPEN, stamped `now`, from any state: an Open breaker starts a fresh
 * open period) or forceClosed (target CLOSED: consecutive failures, probes and stamp all
 * cleared). Returns CHANGED when the state code changed (counted and notified).
 */
export function cbForce(ctl: u32, stripe: u32, target: i32, now: i32): i32 {
  const next = target == CLOSED ? CLOSED : openWord(now);
  for (;;) {
    const w = atomic.load<i32>(ctl);
    if (atomic.cmpxchg<i32>(ctl, w, next) != w) continue;
    const code = w & CODE_MASK;
    if (target == CLOSED) {
      if (code == CLOSED) return DONE;
      atomic.notify(ctl, -1);
      return CHANGED;
    }
    if (code == CLOSED) atomic.store<i32>(ctl + C_TRIP, w >>> PAYLOAD_SHIFT);
    if (code == CLOSED || code == HALF_OPEN) {
      opened(ctl, stripe);
      return CHANGED;
    }
    return DONE;
  }
  return DONE; // not reached: the loop only returns
}
