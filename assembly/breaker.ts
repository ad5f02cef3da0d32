/*
 * The circuit breaker's state machine, on a record the host laid out (src/ops/breaker-layout.ts
 * is the other half of this contract; the two must agree bit for bit, because a 'js'
 * thread runs the same machine on the same words with Atomics, src/ops/breaker-js.ts).
 *
 * Why one word. Every decision the machine makes (admit? open? close? has the probe lease
 * run out?) depends on the state *and* on small numbers that belong to that state: the
 * consecutive failures while Closed, the instant it opened while Open, the admitted probes,
 * the successes and the instant the period began while HalfOpen. Kept in separate words,
 * each of those numbers needs resetting when the state changes, and a thread that reads
 * the new state before the reset lands decides on a stale number: an extra probe admitted,
 * a breaker that half-opens at once because it sees the previous opening's time, a lease
 * that looks expired because it is the previous period's. Packed into the one state word,
 * every transition replaces state and numbers in a single compare-and-swap, so a thread
 * either sees the old tuple or the new one, and each transition is won by exactly one
 * thread: the one whose CAS succeeds.
 *
 *   bits 0..1   state code: 0 Closed, 1 Open, 2 HalfOpen, 3 unknown (reads as Open)
 *   Closed      bits 2..8   consecutive failures (< failureThreshold <= 100)
 *               bits 9..31  rate window floor (breaker-window.ts; 0 when the policy is off)
 *   Open        bits 2..31  opened_at, in ms of the shared clock, modulo 2^30
 *   HalfOpen    bits 2..7   probes admitted in this half-open period (<= successThreshold)
 *               bits 8..13  successes recorded in this half-open period (< successThreshold)
 *               bits 14..31 the period's stamp: when its first probe was admitted, in
 *                           lease units (below), modulo 2^18
 *
 * There is no ABA problem to guard against: a CAS that succeeds replaces a word whose
 * every bit the decision was computed from, so it is correct no matter what happened in
 * between (a HalfOpen word with c claims admits a probe iff c < k, whichever half-open
 * period it belongs to; a HalfOpen word whose stamp is a lease old has an expired lease,
 * whichever period it belongs to). Open words differ by their stamp, so an Open that went
 * through HalfOpen and back is a different word unless exactly 2^30 ms passed meanwhile.
 *
 * The probe lease. A probe whose result is never recorded (its thread was terminated, its
 * call never settled, its caller forgot) would hold its slot for ever, and a HalfOpen
 * breaker with every slot held refuses every call of every thread. So a half-open period
 * in which a probe is still out (claims > successes) once probeLeaseMs have passed since
 * the period began counts as a failed probe: the first thread to ask for a permit after
 * that reopens the breaker with a fresh opened_at (times_opened counts it), and a new
 * period begins after timeoutMs as usual. Measuring from the period's start rather than
 * from each probe keeps the whole lease in the word (there is room for one stamp, not for
 * 50) and bounds how long the breaker can sit in HalfOpen, which is the point; it is
 * resilience4j's maxWaitDurationInHalfOpenState, applied only while a probe is out. With
 * the stamp in the word, expiry is one CAS on a word whose stamp the decision read: a
 * thread that read an old period's word fails its CAS, so a stale reading can never expire
 * a fresh period, and the reopening happens once however many threads notice it. It also
 * heals a HalfOpen word written by something else: whatever its stamp, its elapsed time
 * reaches the lease within probeLeaseMs plus the skew margin below.
 *
 * Lease units. 18 bits cannot hold a millisecond stamp modulo anything useful for leases
 * up to an hour, so the stamp counts units of G = 2^s ms, s the smallest with
 * probeLeaseMs / G <= 1024: the lease is then L = ceil(probeLeaseMs / G) <= 1024 units
 * (more than 512 when G > 1), and the stamp's cycle of 2^18 units is at least 256 leases
 * (and at least 262 s). A period's stamp is floor(t / G) + 1 for the tick t of its first
 * admission (rounded up, so the lease never ends early), and at least
 * floor(opened_at / G) + 2, so two successive periods never share a stamp even when they
 * fall in one unit. The lease has run out when (floor(now / G) - stamp) mod 2^18 >= L,
 * except within (1024 >> s) + 3 units below 2^18, taken as a stamp ahead of the reading
 * (a stamp may be 2 units ahead of its period's start, and one thread may read the clock
 * a hair behind another). So the lease is never early and at most three units late (one
 * for rounding it up to units, two for the stamp). Documented: a HalfOpen breaker with a
 * probe out and no call at all for a whole cycle may, for at most one lease in each
 * cycle, see a young lease and refuse; the next call after that reopens it.
 *
 * Permits and late records. A probe's permit is its period's stamp ((stamp << 2) | 3;
 * a permit from Closed is 1, and 0 means "the caller did not say"). A record that brings
 * a permit only acts in the period the permit came from: a probe's result recorded after
 * its period ended (the lease reopened the breaker, or anything else closed or reopened
 * it) and a Closed permit's result recorded after the breaker left Closed are counted in
 * the totals and change no state, so they cannot close or reopen a new period, nor count
 * in the rate window; nor can a permit recorded twice (a probe's result with no probe out,
 * claims == successes, changes nothing). A record without a permit acts on the state it
 * finds, as it always has: the synchronous guard's boolean gives it nothing to tell
 * periods apart with.
 *
 * opened_at modulo 2^30 ms (12.4 days). Elapsed time is (now - opened_at) mod 2^30. Two
 * consequences, both documented for users: (1) a breaker left Open and not called for
 * more than 12.4 days can, for at most timeout + 1 s in every 12.4 days, see a small
 * elapsed time and reject; the next call after that window is admitted. (2) threads read
 * the same clock (see src/clock.ts), but a thread may read it a hair behind the
 * one that stamped the word; the difference then wraps to just below 2^30, which is taken
 * as "not yet" rather than "12 days": any elapsed value within SKEW_TICKS of 2^30 is
 * treated as negative.
 *
 * Time crosses the boundary as an i32 of ticks (ms modulo 2^30, never negative); the
 * host passes NO_CLOCK (-1) on the hot path, and an export that finds it needs the time
 * returns NEED_CLOCK having changed nothing, so reading the clock (tens of ns in Node)
 * is paid only while the breaker is Open, HalfOpen with a probe out, about to open or
 * close, or when the rate window is on (every record then goes to a time slice).
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
 * Changes of the numbers alone (a claim, a failure count) do not notify: watchers only
 * report state changes, and a watcher that re-arms with a stale word returns at once.
 */
import { ownedAdd, ownedInc } from './counters';
import { closedWordAt, floorSpent, windowAdd, windowTrips } from './breaker-window';

// State codes (bits 0..1 of the word).
const CLOSED: i32 = 0;
const OPEN: i32 = 1;
const HALF_OPEN: i32 = 2;
const CODE_MASK: i32 = 3;

const PAYLOAD_SHIFT: i32 = 2;
const TICK_MASK: i32 = 0x3fffffff;
const SKEW_TICKS: i32 = 1024;
const FAILURE_ONE: i32 = 1 << PAYLOAD_SHIFT;
const FAILURES_FIELD: i32 = 127 << PAYLOAD_SHIFT;
const CLOSED_FAILURES_ONLY: i32 = FAILURES_FIELD | CODE_MASK;
const CLAIM_SHIFT: i32 = 2;
const CLAIM_ONE: i32 = 1 << CLAIM_SHIFT;
const SUCCESS_SHIFT: i32 = 8;
const SUCCESS_ONE: i32 = 1 << SUCCESS_SHIFT;
const SMALL_MASK: i32 = 63;
const STAMP_SHIFT: i32 = 14;
const STAMP_MASK: i32 = 0x3ffff;
const LEASE_UNITS_LOG2: i32 = 10;

// Control block (data offset + 0): the state word, then the trip count (consecutive
// failures when it last opened from Closed, shown while not Closed).
const C_TRIP: u32 = 4;

// Counter fields, in the order of src/ops/breaker-layout.ts. Shared cell of field i: ctl +
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
// Permits: 0 none given, 1 from Closed, (stamp << 2) | 3 a probe of the period `stamp`.
const PERMIT_CLOSED: i32 = 1;

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

/** s: lease units are 2^s ms, the smallest with probeLeaseMs / 2^s <= 1024. */
@inline
function leaseShift(probeLeaseMs: i32): i32 {
  const s = 32 - clz<i32>(probeLeaseMs - 1) - LEASE_UNITS_LOG2;
  return s > 0 ? s : 0;
}

/** The stamp of a half-open period beginning at tick `now` after the Open word `open`. */
@inline
function periodStamp(open: i32, now: i32, probeLeaseMs: i32): i32 {
  const s = leaseShift(probeLeaseMs);
  const fromNow = (now + (1 << s)) >>> s;
  const afterOpen = ((open >>> PAYLOAD_SHIFT) >>> s) + 2;
  return (((fromNow - afterOpen) & STAMP_MASK) > (STAMP_MASK >>> 1) ? afterOpen : fromNow) & STAMP_MASK;
}

@inline
function leaseExpired(word: i32, now: i32, probeLeaseMs: i32): bool {
  const s = leaseShift(probeLeaseMs);
  const lease = (probeLeaseMs + (1 << s) - 1) >>> s;
  const elapsed = ((now >>> s) - (word >>> STAMP_SHIFT)) & STAMP_MASK;
  return elapsed >= lease && elapsed <= STAMP_MASK - (SKEW_TICKS >>> s) - 3;
}

@inline
function probePermit(word: i32): i32 {
  return ((word >>> STAMP_SHIFT) << 2) | 3;
}

/** Whether a record with `permit` belongs to the HalfOpen period of `word`. */
@inline
function inPeriod(word: i32, permit: i32): bool {
  if (permit == 0) return true;
  return permit != PERMIT_CLOSED && permit >>> 2 == word >>> STAMP_SHIFT;
}

// A transition into Open (from Closed or HalfOpen) has been won by this thread.
@inline
function opened(ctl: u32, stripe: u32): void {
  bump(ctl, stripe, F_TIMES_OPENED);
  atomic.notify(ctl, -1);
}

/**
 * Asks for a permit: REJECTED (counted in rejected_calls), PERMIT_CLOSED (Closed), a probe
 * permit (HalfOpen), or NEED_CLOCK when the answer needs the time and `now` is NO_CLOCK
 * (nothing changed; ask again with the time). Open: the first caller to see the timeout
 * elapsed moves it to HalfOpen holding the first probe. HalfOpen: a probe is admitted by a
 * CAS that raises the claim count while it is below `successThreshold`, so the claims of
 * all threads together never exceed it; but first, if a probe is out and the period is
 * `probeLeaseMs` old, the lease has run out and this caller reopens the breaker (and is
 * refused).
 */
export function cbAcquire(ctl: u32, stripe: u32, successThreshold: i32, timeoutMs: i32, probeLeaseMs: i32, now: i32): i32 {
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) return ADMITTED;
    if (code == HALF_OPEN) {
      const claims = (w >>> CLAIM_SHIFT) & SMALL_MASK;
      if (claims > ((w >>> SUCCESS_SHIFT) & SMALL_MASK)) {
        if (now < 0) return NEED_CLOCK;
        if (leaseExpired(w, now, probeLeaseMs)) {
          // Stamped now + 1: the tick is rounded down, the stamp must not be early.
          if (atomic.cmpxchg<i32>(ctl, w, openWord(now + 1)) == w) {
            opened(ctl, stripe);
            break;
          }
          continue;
        }
      }
      if (claims >= successThreshold) break;
      if (atomic.cmpxchg<i32>(ctl, w, w + CLAIM_ONE) == w) return probePermit(w);
      continue;
    }
    if (now < 0) return NEED_CLOCK;
    if (code == OPEN) {
      if (!timeoutElapsed(w, now, timeoutMs)) break;
      const next = HALF_OPEN | CLAIM_ONE | (periodStamp(w, now, probeLeaseMs) << STAMP_SHIFT);
      if (atomic.cmpxchg<i32>(ctl, w, next) == w) {
        atomic.notify(ctl, -1);
        return probePermit(next);
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
 * Records a success: the counters, then Closed: into the rate window when it is on
 * (`windowMs` != 0; the window may then trip the breaker), and consecutive failures back
 * to 0 (written only when not already 0, so the common case leaves the word's cache line
 * shared); HalfOpen: one more success, and the thread whose success reaches
 * `successThreshold` closes it. A record whose permit belongs to another period changes
 * no state. Returns CHANGED when this call opened or closed the breaker, NEED_CLOCK (having
 * changed nothing) when it needs the time and `now` is NO_CLOCK.
 */
export function cbSuccess(ctl: u32, stripe: u32, durationNanos: f64, successThreshold: i32): i32 {
  // The guard's hot path (no permit, rate window off), written out rather than through
  // success(): four arguments to cross into Wasm, and, since it can never need the clock,
  // the counters first and then one load of the word, as before permits and the window
  // existed (measured: the general body inlined with constants was a few % slower).
  bump(ctl, stripe, F_TOTAL_CALLS);
  bump(ctl, stripe, F_SUCCESS);
  addDuration(ctl, stripe, durationNanos);
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) {
      if (w == CLOSED || atomic.cmpxchg<i32>(ctl, w, w & ~FAILURES_FIELD) == w) return DONE;
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

/** cbSuccess with a permit and the rate window's parameters (`windowMs` 0: off). */
export function cbSuccessWith(
  ctl: u32,
  stripe: u32,
  durationNanos: f64,
  successThreshold: i32,
  permit: i32,
  rate: f64,
  minimumCalls: i32,
  windowMs: i32,
  now: i32,
): i32 {
  return success(ctl, stripe, durationNanos, successThreshold, permit, rate, minimumCalls, windowMs, now);
}

@inline
function success(
  ctl: u32,
  stripe: u32,
  durationNanos: f64,
  successThreshold: i32,
  permit: i32,
  rate: f64,
  minimumCalls: i32,
  windowMs: i32,
  now: i32,
): i32 {
  let result = DONE;
  let windowed = false;
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) {
      if (permit > PERMIT_CLOSED) break;
      if (windowMs != 0) {
        if (now < 0) return NEED_CLOCK;
        if (!windowed) {
          windowAdd(ctl, now, windowMs, false);
          windowed = true;
        }
        if (floorSpent(w, now, windowMs)) {
          atomic.cmpxchg<i32>(ctl, w, w & CLOSED_FAILURES_ONLY);
          continue;
        }
        if (windowTrips(ctl, now, windowMs, w, rate, minimumCalls)) {
          if (atomic.cmpxchg<i32>(ctl, w, openWord(now)) == w) {
            atomic.store<i32>(ctl + C_TRIP, 0);
            opened(ctl, stripe);
            result = CHANGED;
            break;
          }
          continue;
        }
      }
      if ((w & FAILURES_FIELD) == 0 || atomic.cmpxchg<i32>(ctl, w, w & ~FAILURES_FIELD) == w) break;
      continue;
    }
    if (code != HALF_OPEN || !inPeriod(w, permit)) break;
    const successes = (w >>> SUCCESS_SHIFT) & SMALL_MASK;
    if (permit != 0 && successes >= ((w >>> CLAIM_SHIFT) & SMALL_MASK)) break;
    if (successes + 1 >= successThreshold) {
      let next = CLOSED;
      if (windowMs != 0) {
        if (now < 0) return NEED_CLOCK;
        next = closedWordAt(now, windowMs);
      }
      if (atomic.cmpxchg<i32>(ctl, w, next) == w) {
        atomic.notify(ctl, -1);
        result = CHANGED;
        break;
      }
    } else if (atomic.cmpxchg<i32>(ctl, w, w + SUCCESS_ONE) == w) {
      break;
    }
  }
  bump(ctl, stripe, F_TOTAL_CALLS);
  bump(ctl, stripe, F_SUCCESS);
  addDuration(ctl, stripe, durationNanos);
  return result;
}

/**
 * Records a failure. Closed: into the rate window when it is on, one more consecutive
 * failure, and the thread whose failure reaches `failureThreshold`, or makes the window
 * trip, opens it; HalfOpen: opens it at once (a record with a permit: only in its own
 * period, with a probe out). Opening needs the time: with NO_CLOCK this returns NEED_CLOCK before
 * changing anything (counters included), and the host calls again with it. Returns
 * CHANGED when this call opened it.
 */
export function cbFailure(ctl: u32, stripe: u32, durationNanos: f64, failureThreshold: i32, now: i32): i32 {
  // As cbSuccess: the shape of the policy-off path (no permit, no window), body inlined.
  return failure(ctl, stripe, durationNanos, failureThreshold, 0, 0, 0, 0, now);
}

/** cbFailure with a permit and the rate window's parameters (`windowMs` 0: off). */
export function cbFailureWith(
  ctl: u32,
  stripe: u32,
  durationNanos: f64,
  failureThreshold: i32,
  permit: i32,
  rate: f64,
  minimumCalls: i32,
  windowMs: i32,
  now: i32,
): i32 {
  return failure(ctl, stripe, durationNanos, failureThreshold, permit, rate, minimumCalls, windowMs, now);
}

@inline
function failure(
  ctl: u32,
  stripe: u32,
  durationNanos: f64,
  failureThreshold: i32,
  permit: i32,
  rate: f64,
  minimumCalls: i32,
  windowMs: i32,
  now: i32,
): i32 {
  let result = DONE;
  let windowed = false;
  for (;;) {
    const w = atomic.load<i32>(ctl);
    const code = w & CODE_MASK;
    if (code == CLOSED) {
      if (permit > PERMIT_CLOSED) break;
      const failures = ((w & FAILURES_FIELD) >>> PAYLOAD_SHIFT) + 1;
      let trip = failures >= failureThreshold;
      if (windowMs != 0) {
        if (now < 0) return NEED_CLOCK;
        if (!windowed) {
          windowAdd(ctl, now, windowMs, true);
          windowed = true;
        }
        if (floorSpent(w, now, windowMs)) {
          atomic.cmpxchg<i32>(ctl, w, w & CLOSED_FAILURES_ONLY);
          continue;
        }
        if (!trip) trip = windowTrips(ctl, now, windowMs, w, rate, minimumCalls);
      }
      if (!trip) {
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
    if (code != HALF_OPEN || !inPeriod(w, permit)) break;
    if (permit != 0 && ((w >>> SUCCESS_SHIFT) & SMALL_MASK) >= ((w >>> CLAIM_SHIFT) & SMALL_MASK)) break;
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
 * cleared, and the rate window restarted when it is on, which needs `now`). Returns
 * CHANGED when the state code changed (counted and notified).
 */
export function cbForce(ctl: u32, stripe: u32, target: i32, windowMs: i32, now: i32): i32 {
  const next = target == CLOSED ? (windowMs != 0 ? closedWordAt(now, windowMs) : CLOSED) : openWord(now);
  for (;;) {
    const w = atomic.load<i32>(ctl);
    if (atomic.cmpxchg<i32>(ctl, w, next) != w) continue;
    const code = w & CODE_MASK;
    if (target == CLOSED) {
      if (code == CLOSED) return DONE;
      atomic.notify(ctl, -1);
      return CHANGED;
    }
    if (code == CLOSED) atomic.store<i32>(ctl + C_TRIP, (w & FAILURES_FIELD) >>> PAYLOAD_SHIFT);
    if (code == CLOSED || code == HALF_OPEN) {
      opened(ctl, stripe);
      return CHANGED;
    }
    return DONE;
  }
  return DONE; // not reached: the loop only returns
}
