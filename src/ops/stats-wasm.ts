import type { StatsKernels, StatsOps } from './stats.js';

/** The stats exports of the core (assembly/stats.ts), as this module reads them. */
export interface StatsExports {
  stepSuccessOwned: StatsKernels['stepSuccess'];
  stepSuccessShared: StatsKernels['stepSuccess'];
  stepFailureOwned: StatsKernels['stepFailure'];
  stepFailureShared: StatsKernels['stepFailure'];
  busHandlerStepOwned: StatsKernels['busHandlerStep'];
  busHandlerStepShared: StatsKernels['busHandlerStep'];
  busPublishOwned: StatsKernels['busPublish'];
  busPublishShared: StatsKernels['busPublish'];
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
      busHandlerStep: x.busHandlerStepOwned,
      busPublish: x.busPublishOwned,
      subCompletion: x.subCompletionOwned,
    },
    shared: {
      stepSuccess: x.stepSuccessShared,
      stepFailure: x.stepFailureShared,
      busHandlerStep: x.busHandlerStepShared,
      busPublish: x.busPublishShared,
      subCompletion: x.subCompletionShared,
    },
  };
}
