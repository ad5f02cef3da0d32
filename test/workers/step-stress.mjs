import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, name, n, striped } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const stats = registry.stepExecutionStats(name, { striped });
waitForStart();
for (let i = 0; i < n; i++) {
  if (i % 2 === 0) stats.recordSuccess(i % 100);
  else stats.recordFailure();
}
parentPort.postMessage({ slot: registry.slot });
