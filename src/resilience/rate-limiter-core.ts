/*
 * The rate limiter's shared state and its protocol: a token bucket kept in one 64-bit
 * word, changed by one compare-and-swap per grant, shared by every thread.
 *
 * The word. A token bucket has two numbers, the tokens in it and the time they were
 * counted at; refilling at `rate` tokens per ns, they follow one another. So the bucket
 * is kept as the one time that carries both: the time at which the bucket will be full
 * again ("theoretical arrival time", TAT), in ns of the limiter's clock. At time `now`
 * the bucket holds
 *
 *     tokens(now) = min(burst, (now + burst * T - TAT) / T),      T = ns per token,
 *
 * and taking `n` tokens moves the TAT forward by n * T (from `now` if it was in the past:
 * a full bucket does not overflow). A grant is one compare-and-swap of the old TAT for
 * the new one, so two threads never take the same token, and there is no lock and no
 * second word to keep in step with the first. (This is the form of the token bucket that
 * network policers call the virtual-scheduling GCRA; the bucket's tokens and its clock
 * are packed in the word as one quantity rather than as two bit fields, so that neither
 * loses precision to the other.)
 *
 * The invariant. Every grant leaves TAT - now <= burst * T + wait, where `wait` is how
 * long the grantee then waits before using its tokens (0 for tryAcquire). The grants
 * whose use falls in a window [a, a + I] move the TAT from at least `a` (it never lags
 * behind a grant's own time) to at most a + I + burst * T, so they hold at most
 * I / T + burst tokens: with T rounded up to whole ns, at most tokensPerInterval + burst
 * in any window of intervalMs. This holds whatever order the compare-and-swaps of racing
 * threads land in, because each grant is checked against the TAT it replaces.
 *
 * Waiting without spinning. `acquire` that finds too few tokens reserves its tokens in
 * the future (the same compare-and-swap, with TAT - now up to burst * T + maxWait) and
 * sleeps on a timer until they are due. Reservations are taken in the order of their
 * compare-and-swaps, so waiters are served first come, first served across threads, and
 * a tryAcquire never overtakes them (the TAT already counts their tokens). A waiter whose
 * caller aborts gives its tokens back if nobody has reserved after it (one
 * compare-and-swap back); otherwise they stay spent (the bucket is never overdrawn).
 *
 * Time is the limiter's clock: the process's monotonic clock (src/clock.ts), the same in
 * every thread, or a user's clock read through guardedClock (a bad reading is this
 * thread's last good one). T is rounded up to a whole ns, so the rate is exact to within
 * one part in T (within 2% down to T = 50 ns, i.e. up to 20 million tokens per second).
 *
 * Nothing read from shared memory is trusted without a bound: a TAT more than the
 * longest legitimate reservation ahead of `now` (memory written over, or a clock that
 * stepped back by more than that) is taken for `now`, as if the bucket were full.
 */

/** The most a reservation may wait, in ms (acquire's maxWaitMs is at most this). */
export const MAX_WAIT_MS = 86_400_000;

/** take(): refused. The wait it would have needed is in `retryNs`. */
export const REFUSED = -1n;

export class RateLimiterCore {
  /** After a refusal: the ns the request would have had to wait. */
  retryNs = 0n;
  private readonly i64: BigInt64Array;
  private readonly at: number;
  /** ns per token (rounded up). */
  readonly T: bigint;
  /** The bucket's size in ns: burst * T. */
  readonly tau: bigint;
  private readonly horizon: bigint;
  private readonly burst: number;

  constructor(i64: BigInt64Array, byteOffset: number, tokensPerInterval: number, intervalMs: number, burst: number) {
    this.i64 = i64;
    this.at = byteOffset >>> 3;
    const intervalNs = BigInt(intervalMs) * 1_000_000n;
    const tokens = BigInt(tokensPerInterval);
    this.T = (intervalNs + tokens - 1n) / tokens;
    this.tau = BigInt(burst) * this.T;
    this.burst = burst;
    this.horizon = this.tau + BigInt(MAX_WAIT_MS) * 1_000_000n;
  }

  /**
   * Takes `n` tokens at `now` (ns), reserving them up to `maxWaitNs` ahead. Returns the ns
   * to wait before using them (0n: at once), or REFUSED (nothing taken; `retryNs` says how
   * long it would have waited). BigInts allocate: the bounds are computed once, outside
   * the loop, and the wait only for a grant that has one.
   */
  take(n: number, now: bigint, maxWaitNs: bigint): bigint {
    const i64 = this.i64;
    const cost = n === 1 ? this.T : BigInt(n) * this.T;
    const full = now + this.tau;
    const limit = maxWaitNs === 0n ? full : full + maxWaitNs;
    const horizonEnd = now + this.horizon;
    for (;;) {
      const cur = Atomics.load(i64, this.at);
      const next = (cur > now && cur <= horizonEnd ? cur : now) + cost;
      if (next > limit) {
        this.retryNs = next - full;
        return REFUSED;
      }
      if (Atomics.compareExchange(i64, this.at, cur, next) === cur) return next > full ? next - full : 0n;
    }
  }

  /** Gives back `n` tokens taken by the reservation that left the TAT at `end`, if nobody reserved after it. */
  giveBack(n: number, end: bigint): boolean {
    return Atomics.compareExchange(this.i64, this.at, end, end - BigInt(n) * this.T) === end;
  }

  /** The TAT a take() at `now` of `n` tokens that waited `wait` left (for giveBack). */
  endOf(n: number, now: bigint, wait: bigint): bigint {
    return now + wait + this.tau;
  }

  /** Whole tokens in the bucket at `now` (0..burst). */
  tokens(now: bigint): number {
    const cur = Atomics.load(this.i64, this.at);
    const tat = cur > now && cur - now <= this.horizon ? cur : now;
    const t = (now + this.tau - tat) / this.T;
    return t <= 0n ? 0 : Math.min(this.burst, Number(t));
  }
}
