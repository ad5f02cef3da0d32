// Worker side of test/bus-killed-publisher.threads.test.ts: publishes in a loop until the
// main thread terminates it. Each batch: four publishes on a bus whose handlers are
// asynchronous, awaited together (so that most of the time several publishes await their
// handlers), then a run of synchronous publishes on a second bus under the same stats name
// whose one handler throws (so that a termination often lands in the record of a publish
// with an error, several cells). Some handlers fail (handler errors), and a broadcast
// receiver is open for some publishes and not for others (dispatches and drops).
// progress[index] = how many batches have completed.
import { workerData } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const bus = new InProcessEventBus({ registry, name: 'killed.bus', logger: { warn() {} } });
const progress = new Int32Array(d.progress);
let n = 0;
bus.subscribe('*', () => new Promise((resolve) => setTimeout(resolve, 1)));
bus.subscribe('order.*', () => (++n % 3 === 0 ? Promise.reject(new Error('downstream')) : Promise.resolve()));
// A synchronous handler too: its failures are counted with the asynchronous ones.
bus.subscribe('order.placed', () => {
  if (n % 5 === 0) throw new Error('sync');
});
const sync = new InProcessEventBus({ registry, name: 'killed.bus', logger: { warn() {} }, logSubscriberErrors: false });
sync.subscribe('order.failed', () => {
  throw new Error('sync');
});
let rx;
for (let i = 1; ; i++) {
  if (i % 4 === 0) rx = rx === undefined ? bus.subscribeBroadcast() : (rx.close(), undefined);
  const batch = [];
  for (let j = 0; j < 4; j++) batch.push(bus.publish({ event_name: j % 2 === 0 ? 'order.placed' : 'user.seen' }));
  await Promise.all(batch);
  for (let j = 0; j < 2000; j++) sync.publish({ event_name: 'order.failed' });
  Atomics.store(progress, d.index, i);
}
