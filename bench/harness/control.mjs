// The control block one variant's threads share with the harness thread: a few i32
// words that sequence the rounds, then one slot of f64s per thread where the thread
// leaves its measurements of the round it just ran.
//
// A round lasts a fixed time, not a fixed number of operations: with a fixed count, a
// thread that wins an unfair lock (or simply runs faster) finishes first and the rest
// of the round measures the other thread alone. So: the harness stores ROUND_US and
// STRIDE, clears ARRIVED, DONE and STOP, then bumps GO and notifies. Each thread wakes,
// reads its own scheduler counters, adds itself to ARRIVED and spins until every thread
// has arrived (the start barrier: futex wake-ups can be tens of microseconds apart, the
// spin releases the threads together), reads the clock and runs chunks of operations.
// Thread 0 keeps time: every STRIDE chunks it reads the clock and, once ROUND_US have
// passed, sets STOP. Every thread checks STOP after each chunk, so all stop within one
// chunk of each other. Each then reads the clock and its counters, writes its slot and
// adds itself to DONE. The harness reads the slots only after DONE == threads; the
// seq-cst Atomics.add on DONE orders the plain slot stores before that read.
export const GO = 0; // round number; STOP_ROUND ends the threads
export const ROUND_US = 1; // how long thread 0 lets this round run, microseconds
export const ARRIVED = 2; // threads past the start barrier of this round
export const DONE = 3; // threads that finished this round
export const READY = 4; // threads that prepared their variant
export const FAILED = 5; // 1 when a thread's operation threw: the harness stops
export const STOP = 6; // 1 once thread 0 has seen the round's time pass
export const STRIDE = 7; // chunks between two clock reads of thread 0
export const STOP_ROUND = -1;
const WORDS = 8;

// Per-thread slot, in f64s. Clocks are process.hrtime (CLOCK_MONOTONIC, the same clock
// in every thread of the process) in ns; ops is what the thread completed this round;
// run/wait are the thread's own CPU time and runnable-but-not-running time from
// /proc/thread-self/schedstat (ns), taken just before the barrier and just after the
// round, over `span` ns of the same clock.
export const SLOT = { start: 0, end: 1, ops: 2, run: 3, wait: 4, span: 5 };
const SLOT_F64 = 6;

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
