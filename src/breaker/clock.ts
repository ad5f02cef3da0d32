/*
 * The time every thread of a breaker agrees on: the process's monotonic clock (src/clock.ts
 * says why it is one time base for every thread) or a user's clock, read so that a broken
 * one cannot lose a record, and turned into the state machine's ticks.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { type Clock, monotonicClock } from '../clock.js';
import { TICK_MASK } from '../ops/breaker-layout.js';

/**
 * The breaker's reading of a user's clock, which must not be able to lose a record: a
 * reading that is not a finite number (NaN, Infinity, a non-number) or a clock that
 * throws is replaced by this reader's last good reading ("no time passed since"), or by
 * the package's monotonic clock before the first good one. So a broken clock can delay a
 * transition (time stands still for this thread) but never leaves a permit unrecorded or
 * throws out of the breaker. Per thread and per breaker object; no shared state.
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

function checked(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidOptionsError('clock', `must return a finite number of milliseconds, returned ${describe(ms)}`);
  }
  return ms;
}

/** Ticks for comparing against a stamp: whole ms, rounded down, modulo 2^30. */
export function nowTicks(ms: number): number {
  return Math.floor(checked(ms)) & TICK_MASK;
}

/**
 * Ticks for stamping opened_at: rounded up, so that floor(now) - ceil(opened) >= timeout
 * implies now - opened >= timeout: a probe is never admitted early, and at most 2 ms late.
 */
export function stampTicks(ms: number): number {
  return Math.ceil(checked(ms)) & TICK_MASK;
}
