// Shared by the stress workers: announce readiness, then block until the main thread
// releases every worker at once through the shared start flag.
import { parentPort, workerData } from 'node:worker_threads';

export function waitForStart() {
  parentPort.postMessage('ready');
  Atomics.wait(workerData.start, 0, 0);
}
