/*
 * The time every thread of a breaker agrees on: the process's monotonic clock (src/clock.ts
 * says why it is one time base for every thread) or a user's clock, read so that a broken
 * one cannot lose a record, and turned into the state machine's ticks.
 */
import { InvalidOptionsError, describe } from '../errors.js';
import { TICK_MASK } from '../ops/breaker-layout.js';

// The guarded reading of a user's clock is shared with the other policies (src/clock.ts).
export { guardedClock } from '../clock.js';

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
