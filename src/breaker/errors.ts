import { AtomicStatsError } from '../errors.js';
import type { CircuitState } from './state.js';

/**
 * A call the breaker rejected without running it: the breaker was Open (timeout not yet
 * passed) or HalfOpen with every probe slot taken. `breakerName` names the breaker.
 */
export class CircuitOpenError extends AtomicStatsError {
  static override readonly code = 'ERR_CIRCUIT_OPEN';
  declare readonly code: 'ERR_CIRCUIT_OPEN';
  readonly breakerName: string;
  /** The state that rejected the call. */
  readonly state: CircuitState;
  constructor(breakerName: string, state: CircuitState) {
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
