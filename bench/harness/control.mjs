// The control block one variant's threads share with the harness thread: a few i32
// words that sequence the rounds, then one slot of f64s per thread where the thread
// leaves its measurements of the round it just ran.
//
// A round: the harness stores OPS, clears ARRIVED and DONE, then bumps GO and notifies.
// Each thread wakes, reads its own scheduler counters, adds itself to ARRIVED and spins
// until every thread has arrived (the start barrier: the futex wake-ups of the threads
// can be tens of microseconds apart, the spin releases them together), reads the clock,
// runs OPS operations, reads the clock and its counters again, writes its slot, and adds
// itself to DONE. The harness reads the slots only after DONE == threads; the seq-cst
// Atomics.add on DONE orders the plain slot stores before that read.
export const GO = 0; // round number; STOP_ROUND ends the threads
export const OPS = 1; // operations per thread in this round
export const ARRIVED = 2; // threads past the start barrier of this round
export const DONE = 3; // threads that finished this round
export const READY = 4; // threads that prepared their variant
export const FAILED = 5; // 1 when a thread's operation threw: the harness stops
export const STOP_ROUND = -1;
const WORDS = 8;

// Per-thread slot, in f64s. Clocks are process.hrtime (CLOCK_MONOTONIC, the same clock
// in every thread of the process) in ns; run/wait are the thread's own CPU time and
// runnable-but-not-running time from /proc/thread-self/schedstat (ns), taken just
// before the barrier and just after the round, over `span` ns of the same clock.
export const SLOT = { start: 0, end: 1, run: 2, wait: 3, span: 4 };
const SLOT_F64 = 5;

export function controlBytes(threads) {
  return WORDS * 4 + threads * SLOT_F64 * 8;
}

export function views(sab) {
  return {
    ctrl: new Int32Array(sab, 0, WORDS),
    slots: new Float64Array(sab, WORDS * 4),
    slot: (i, field) => i * SLOT_F64 + SLOT[field],
  };
}
