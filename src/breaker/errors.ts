import { AtomicStatsError } from '../errors.js';

/**
 * A call the breaker rejected without running it: the breaker was Open (timeout not yet
 * passed) or HalfOpen with every probe slot taken. `breakerName` names the breaker.
 */
export class CircuitOpenError extends AtomicStatsError {
  static override readonly code = 'ERR_CIRCUIT_OPEN';
  declare readonly code: 'ERR_CIRCUIT_OPEN';
  readonly breakerName: string;
  /**
   * The state that rejected the call: `'Open'`, or `'HalfOpen'` with every probe slot
   * taken. Never `'Closed'`: a Closed breaker refuses nothing.
   */
  readonly state: 'Open' | 'HalfOpen';
  constructor(breakerName: string, state: 'Open' | 'HalfOpen') {
    super(
      'ERR_CIRCUIT_OPEN',
      state === 'HalfOpen'
        ? `circuit breaker "${breakerName}" is half-open and all its probes are in flight: call rejected`
        : `circuit breaker "${breakerName}" is open: call rejected`,
    );
    this.breakerName = breakerName;
    this.state = state;
  }
}
