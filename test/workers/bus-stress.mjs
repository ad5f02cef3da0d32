// One bus per worker on a shared stats name. With `handlers`: a wildcard handler, an
// exact one that throws on every 10th event, and a non-matching one. With `receivers`:
// one local receiver that is never read (so it lags by n - capacity).
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, name, n, handlers, receivers, capacity } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const bus = new InProcessEventBus({ registry, name, broadcastBufferSize: capacity, logSubscriberErrors: false, logger: { warn() {} } });
let seen = 0;
if (handlers) {
  bus.subscribe('order.*', () => {
    seen++;
  });
  bus.subscribe('order.created', (e) => {
    if (e.payload.i % 10 === 0) throw new Error('every tenth');
  });
  bus.subscribe('never.matches', () => {
    throw new Error('not reached');
  });
}
const rx = receivers ? bus.subscribeBroadcast() : undefined;
waitForStart();
let asyncResults = 0;
for (let i = 0; i < n; i++) {
  const event = { event_id: `${i}`, event_name: 'order.created', event_version: '1.0', payload: { i }, metadata: {} };
  if (bus.publish(event) !== undefined) asyncResults++;
}
parentPort.postMessage({ seen, asyncResults, buffered: rx ? rx.size : 0, live: bus.getStatistics() });
