import type { BreakerOps } from './breaker.js';

/** The breaker exports of the core (assembly/breaker.ts), as this module reads them. */
export interface BreakerExports {
  cbAcquire: BreakerOps['acquire'];
  cbSuccess: BreakerOps['success'];
  cbSuccessWith: BreakerOps['successWith'];
  cbFailure: BreakerOps['failure'];
  cbFailureWith: BreakerOps['failureWith'];
  cbForce: BreakerOps['force'];
}

/**
 * The Wasm twin: the exports themselves, unwrapped, so a permit is one property load and
 * one call into Wasm.
 */
export function wasmBreakerOps(x: BreakerExports): BreakerOps {
  return { acquire: x.cbAcquire, success: x.cbSuccess, successWith: x.cbSuccessWith, failure: x.cbFailure, failureWith: x.cbFailureWith, force: x.cbForce };
}
