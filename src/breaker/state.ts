import { STATE_CLOSED, STATE_HALF_OPEN, stateCodeOf } from '../ops/breaker-layout.js';

/** A breaker's state, as `breaker.state` and the metrics' `current_state` give it. */
export type CircuitState = 'Closed' | 'Open' | 'HalfOpen';

/** The three states by name, for comparisons: `breaker.state === CircuitState.Open`. */
export const CircuitState = Object.freeze({ Closed: 'Closed', Open: 'Open', HalfOpen: 'HalfOpen' } as const);

/** The state a state word reads as (an unknown code reads as Open). */
export function stateOfWord(word: number): CircuitState {
  const code = stateCodeOf(word);
  return code === STATE_CLOSED ? 'Closed' : code === STATE_HALF_OPEN ? 'HalfOpen' : 'Open';
}
