// One bus per worker with a small maxPendingDispatches, a handler that never settles and a
// synchronous one. Publishes `n` events (or, with n < 0, until it is terminated), storing
// its progress after each publish, then reports what it saw.
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, name, n, max, progress, index } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const bus = new InProcessEventBus({ registry, name, maxPendingDispatches: max, dispatchTimeoutMs: 600_000, logger: { warn() {} } });
let asyncCalls = 0;
let syncCalls = 0;
bus.subscribe('order.*', () => {
  asyncCalls++;
  return new Promise(() => {});
});
bus.subscribe('order.created', () => {
  syncCalls++;
});
waitForStart();
let promises = 0;
for (let i = 0; n < 0 || i < n; i++) {
  if (bus.publish({ event_id: `${index}-${i}`, event_name: 'order.created', event_version: '1.0', payload: { i }, metadata: {} }) !== undefined) promises++;
  Atomics.store(progress, index, i + 1);
}
parentPort.postMessage({ asyncCalls, syncCalls, promises, pending: bus.pendingDispatches });
