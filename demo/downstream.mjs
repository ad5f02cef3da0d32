// The simulated downstream service. It is one service for every thread, so its health is
// one shared word (0 healthy, 1 outage) that the main thread flips on a schedule and the
// workers read on every call.

export const HEALTHY = 0;
export const OUTAGE = 1;

export function createHealthWord() {
  return new Int32Array(new SharedArrayBuffer(4));
}

export function isOutage(health) {
  return Atomics.load(health, 0) === OUTAGE;
}

const between = (lo, hi) => lo + Math.random() * (hi - lo);

/**
 * Flips the health word: healthy spells of 2-3.5 s and outages of 0.8-1.6 s, the first one
 * early enough (0.8-1.4 s in) that even a 3 s run shows the breaker open. An outage that
 * outlasts the breaker's 1 s timeout makes its first half-open probes fail, so both ways
 * out of HalfOpen get shown.
 */
export function startOutageSchedule(health, onChange) {
  let timer;
  const set = (state, nextInMs) => {
    Atomics.store(health, 0, state);
    onChange(state);
    timer = setTimeout(() => set(state === OUTAGE ? HEALTHY : OUTAGE, state === OUTAGE ? between(2000, 3500) : between(800, 1600)), nextInMs);
  };
  timer = setTimeout(() => set(OUTAGE, between(800, 1600)), between(800, 1400));
  return () => clearTimeout(timer);
}

export class DownstreamError extends Error {
  constructor(message, retryable) {
    super(message);
    this.name = 'DownstreamError';
    this.retryable = retryable;
  }
}

/**
 * One call to the downstream: resolves or rejects after a short delay, mostly the next
 * event-loop turn, sometimes a few milliseconds. Healthy, 2% of calls fail (a third of
 * those for good: the request itself was bad); in an outage, nearly all of them do.
 */
export function callDownstream(health, event) {
  return new Promise((resolve, reject) => {
    const r = Math.random();
    let err;
    if (isOutage(health)) {
      if (r < 0.97) err = new DownstreamError('downstream unavailable (503)', true);
    } else if (r < 0.02) {
      err = r < 0.0067 ? new DownstreamError('downstream rejected the request (422)', false) : new DownstreamError('downstream timed out', true);
    }
    const settle = () => (err ? reject(err) : resolve({ reference: event.event_id.slice(0, 8), accepted_at: Date.now() }));
    if (Math.random() < 0.85) setImmediate(settle);
    else setTimeout(settle, 1 + Math.floor(Math.random() * 4));
  });
}
