// Worker side of test/exporters.test.ts: does a known amount of work on every kind of
// entry (a striped counter set, step stats, an event bus, a circuit breaker), or, as
// the victim, loops until it is terminated, counting its iterations in a set of its own.
import { workerData, parentPort } from 'node:worker_threads';
import { StatsRegistry, InProcessEventBus, createDomainEvent } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const jobs = registry.counters('jobs', ['done', 'failed'], { striped: true }).counter('done');
const steps = registry.stepExecutionStats('steps');
const bus = new InProcessEventBus({ registry, name: 'orders' });
bus.subscribe('order.*', () => {});
const breaker = registry.circuitBreaker('db', { failureThreshold: 100 });
const event = createDomainEvent({
  event_name: 'order.created',
  payload: {},
  metadata: { task_uuid: 't', namespace: 'n', correlation_id: 'c', fired_by: 'test' },
});

function iteration() {
  jobs.inc();
  steps.recordSuccess(2);
  bus.publish(event);
  if (breaker.tryAcquire()) breaker.recordSuccess(1000);
}

if (d.mode === 'work') {
  for (let i = 0; i < d.iterations; i++) iteration();
  parentPort.postMessage({ done: d.iterations });
} else {
  const mine = registry.counters('victim', ['iterations']).counter('iterations');
  parentPort.postMessage('started');
  for (;;) {
    iteration();
    mine.inc();
  }
}
