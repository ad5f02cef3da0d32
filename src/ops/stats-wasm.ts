import type { StatsKernels, StatsOps } from './stats.js';

/** The stats exports of the core (assembly/stats.ts), as this module reads them. */
export interface StatsExports {
  stepSuccessOwned: StatsKernels['stepSuccess'];
  stepSuccessShared: StatsKernels['stepSuccess'];
  stepFailureOwned: StatsKernels['stepFailure'];
  stepFailureShared: StatsKernels['stepFailure'];
  busRustOwned: StatsKernels['busRust'];
  busRustShared: StatsKernels['busRust'];
  busPublishOwned: StatsKernels['busPublish'];
  busPublishShared: StatsKernels['busPublish'];
  busFfiOwned: StatsKernels['busFfi'];
  busFfiShared: StatsKernels['busFfi'];
  subCompletionOwned: StatsKernels['subCompletion'];
  subCompletionShared: StatsKernels['subCompletion'];
}

/**
 * The Wasm twin: the export functions themselves, no JS wrapper, so a record is one
 * property load and one call into Wasm.
 */
export function wasmStatsOps(x: StatsExports): StatsOps {
  return {
    owned: {
      stepSuccess: x.stepSuccessOwned,
      stepFailure: x.stepFailureOwned,
      busRust: x.busRustOwned,
      busPublish: x.busPublishOwned,
      busFfi: x.busFfiOwned,
      subCompletion: x.subCompletionOwned,
    },
    shared: {
      stepSuccess: x.stepSuccessShared,
      stepFailure: x.stepFailureShared,
      busRust: x.busRustShared,
      busPublish: x.busPublishShared,
      busFfi: x.busFfiShared,
      subCompletion: x.subCompletionShared,
    },
  };
}
