/*
 * The process's monotonic clock, one time base for every thread.
 *
 * A breaker's opened_at is stamped by one thread and compared against by all the others,
 * and a timeout is armed by one call and checked by another, so they need a clock with
 * one origin for the whole process. `performance.now()` alone will not do: the HTML spec
 * gives each worker its own time origin (Node 20 happens to share the process's, which
 * nothing promises). `performance.timeOrigin + performance.now()` has a common origin only
 * as far as the wall clock read at each origin agrees, and an NTP step between two origins
 * shifts one thread against the other.
 *
 * What is truly shared is the clock under both: CLOCK_MONOTONIC, which Node reads for
 * `process.hrtime` and for `performance.now()` alike. It is one clock for every thread of
 * the process (every process of the machine, even), never steps, and does not count wall
 * time adjustments. Reading it through `process.hrtime()` costs an array allocation per
 * read, so each thread measures once, at load, the constant between its own
 * `performance.now()` and hrtime, and reads `performance.now() + offset` afterwards: the
 * same clock within the microsecond it takes to read both, far below the 1 ms tick the
 * breaker's state machine uses (and its SKEW_TICKS absorbs a tick of difference either way).
 *
 * Bun and Deno count `process.hrtime` (like `performance.now()`) from each thread's own
 * start, so there it is no shared clock: a worker started a minute after the main thread
 * read a minute less, and a breaker it opened looked a minute old to the main thread.
 * There is no shared monotonic clock to read on those runtimes, so the offset is the
 * thread's `performance.timeOrigin`, the wall-clock time at which its own clock started:
 * threads agree to within a millisecond unless the wall clock is stepped between their
 * starts (pass a `clock` of your own where that matters).
 */

/** Returns milliseconds on a time base every thread using the breaker shares. */
export type Clock = () => number;

function calibrate(): number {
  // The smallest gap between the two reads gives the tightest offset.
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const t = process.hrtime();
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = t[0] * 1e3 + t[1] / 1e6 - (before + after) / 2;
    }
  }
  return offset;
}

const perThreadHrtime = typeof process.versions.bun === 'string' || typeof process.versions.deno === 'string';
const offset = perThreadHrtime ? performance.timeOrigin : calibrate();

/** The default clock in ms, the same in every thread: the process's monotonic clock (Node), or wall-clock-aligned (Bun, Deno). */
export const monotonicClock: Clock = () => performance.now() + offset;

/**
 * A user's clock as the breaker, the bulkhead and the rate limiter read it, so that a
 * broken one cannot lose a record: a reading that is not a finite number (NaN, Infinity,
 * a non-number) or a clock that throws is replaced by this reader's last good reading
 * ("no time passed since"), or by the package's monotonic clock before the first good
 * one. So a broken clock can delay a transition (time stands still for this thread) but
 * never leaves a permit unrecorded or throws out of the policy that reads it. Per thread
 * and per object; no shared state.
 */
export function guardedClock(clock: Clock): Clock {
  if (clock === monotonicClock) return clock;
  let last = Number.NaN;
  return () => {
    let ms: unknown;
    try {
      ms = clock();
    } catch {
      ms = undefined;
    }
    if (typeof ms === 'number' && Number.isFinite(ms)) {
      last = ms;
      return ms;
    }
    return Number.isNaN(last) ? monotonicClock() : last;
  };
}
