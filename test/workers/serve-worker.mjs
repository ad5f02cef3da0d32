// Worker side of test/serve-metrics.threads.test.ts: counts a known amount into a striped counter
// set, a labelled counter and a histogram, then posts what it did.
import { workerData, parentPort } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const jobs = registry.counters('jobs', ['done'], { striped: true }).counter('done');
const requests = registry.counter({ name: 'requests_total', help: 'Requests.', labelNames: ['worker'] }).labels(String(d.index));
const latency = registry.histogram({ name: 'latency_seconds', help: 'Latency.', buckets: [0.1, 1] });
for (let i = 0; i < d.iterations; i++) {
  jobs.inc();
  requests.inc();
  latency.observe(i % 2 === 0 ? 0.05 : 0.5);
}
registry.close();
parentPort.postMessage({ done: d.iterations });
