import { workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

const registry = StatsRegistry.attach(workerData.handle); // same memory, same counters
const requests = registry.counters('http_requests', ['ok', 'failed'], { striped: true });
for (let i = 0; i < 10_000; i++) requests.counter(i % 100 === 0 ? 'failed' : 'ok').inc();
