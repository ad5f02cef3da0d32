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

const offset = calibrate();

/** The default clock: the process's monotonic clock in ms, the same in every thread. */
export const monotonicClock: Clock = () => performance.now() + offset;
