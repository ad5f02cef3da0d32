import { workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

// Once per thread: attach, then open what the thread counts into, and keep the handles.
// Looking a counter up by name on every request costs far more than the `inc()` itself.
const registry = StatsRegistry.attach(workerData.handle); // same memory, same counters
const requests = registry.counters('http_requests', ['ok', 'failed'], { striped: true });
const ok = requests.counter('ok');
const failed = requests.counter('failed');
// A metric kind is exported under exactly the name it is given.
const latency = registry.histogram({
  name: 'http_request_duration_seconds',
  help: 'Time to answer a request.',
  labelNames: ['route'],
  buckets: [0.01, 0.1, 1],
});
const users = latency.labels({ route: '/users' });

// The "requests": one in a hundred fails (and is slow); durations are exact binary
// fractions, so the sums printed by the example are exact.
for (let i = 0; i < 10_000; i++) {
  if (i % 100 === 0) {
    failed.inc();
    users.observe(0.5);
  } else {
    ok.inc();
    users.observe(0.0625);
  }
}
