// A bus with one handler and one receiver it drains, publishing plain events (each counted
// by publish()'s inline store into this thread's stripe). With `n`: publishes n and
// reports. Without: publishes until terminated, storing after each publish how many it
// completed, so a kill lands between a publish and its report at most once.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, n, done, index } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const bus = new InProcessEventBus({ registry, name: 'churn' });
let seen = 0;
bus.subscribe('job.*', () => {
  seen++;
});
const rx = bus.subscribeBroadcast();
const event = { event_name: 'job.done' };
waitForStart();
if (n === undefined) {
  for (let i = 1; ; i++) {
    bus.publish(event);
    rx.tryReceive();
    Atomics.store(done, index, i);
  }
}
let received = 0;
for (let i = 0; i < n; i++) {
  bus.publish(event);
  if (rx.tryReceive() !== undefined) received++;
}
parentPort.postMessage({ slot: registry.slot, threadId, seen, received });
