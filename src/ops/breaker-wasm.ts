import type { BreakerOps } from './ops.js';

/** The breaker exports of the core (assembly/breaker.ts), as this module declares them. */
export interface BreakerExports {
  cbAcquire: BreakerOps['acquire'];
  cbSuccess: BreakerOps['success'];
  cbSuccessWith: BreakerOps['successWith'];
  cbFailure: BreakerOps['failure'];
  cbFailureWith: BreakerOps['failureWith'];
  cbForce: BreakerOps['force'];
}

const cache = new WeakMap<object, BreakerOps>();

/**
 * The Wasm backend: the exports themselves, unwrapped, so a permit is one property load
 * and one call into Wasm. `core` is the registry's instance for this thread.
 */
export function wasmBreakerOps(core: object): BreakerOps {
  let ops = cache.get(core);
  if (ops === undefined) {
    // Every thread instantiates this build's own core (wasm-module.ts), so the exports are there.
    const x = core as BreakerExports;
    ops = { acquire: x.cbAcquire, success: x.cbSuccess, successWith: x.cbSuccessWith, failure: x.cbFailure, failureWith: x.cbFailureWith, force: x.cbForce };
    cache.set(core, ops);
  }
  return ops;
}
