/**
 * The breaker's state-machine operations, one call each, on addresses the host laid out:
 * `ctl` is the record's control block (the counters' shared stripe follows it), `stripe`
 * this thread's owned counter stripe, or 0 for a thread without one (atomic adds to the
 * shared stripe). Two implementations with the same semantics on the same memory: the Wasm
 * exports of assembly/breaker.ts (breaker-wasm.ts) and their Atomics twin (breaker-js.ts).
 * Results and arguments are the constants of breaker-layout.ts; every argument and result is an
 * i32 or an f64, so no call allocates.
 */
export interface BreakerOps {
  /**
   * REJECTED, a permit (PERMIT_CLOSED, or a probe's permit: `(r & 3) === 3`), or NEED_CLOCK
   * (when `now` is NO_CLOCK and the time is needed; nothing changed).
   */
  acquire(ctl: number, stripe: number, successThreshold: number, timeoutMs: number, probeLeaseMs: number, now: number): number;
  /** `successWith` without a permit, with the rate window off: the hot path's shape. DONE or CHANGED. */
  success(ctl: number, stripe: number, durationNanos: number, successThreshold: number): number;
  /**
   * DONE, CHANGED (this call closed or opened the breaker), or NEED_CLOCK having changed
   * nothing. `windowMs` 0: the rate window is off (then `rate` and `minimumCalls` are unused).
   */
  successWith(ctl: number, stripe: number, durationNanos: number, successThreshold: number, permit: number, rate: number, minimumCalls: number, windowMs: number, now: number): number;
  /** `failureWith` without a permit, with the rate window off. DONE, CHANGED or NEED_CLOCK. */
  failure(ctl: number, stripe: number, durationNanos: number, failureThreshold: number, now: number): number;
  /** DONE, CHANGED (this call opened it), or NEED_CLOCK having changed nothing. */
  failureWith(ctl: number, stripe: number, durationNanos: number, failureThreshold: number, permit: number, rate: number, minimumCalls: number, windowMs: number, now: number): number;
  /** Force to STATE_OPEN (stamped `now`) or STATE_CLOSED (window restarted at `now` when on). DONE or CHANGED. */
  force(ctl: number, stripe: number, target: number, windowMs: number, now: number): number;
}
