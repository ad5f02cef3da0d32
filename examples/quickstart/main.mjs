// main.mjs: the README's quick start, as it is there (test/examples.test.ts runs it).
import { Worker } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

const registry = StatsRegistry.create();
const requests = registry.counters('requests', ['ok', 'failed'], { striped: true });
const pricing = registry.circuitBreaker('pricing-api', { failureThreshold: 5, timeoutMs: 10_000 });

const workers = [1, 2, 3, 4].map(
  () => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: registry.handle }),
);
await Promise.all(workers.map((w) => new Promise((resolve) => w.on('exit', resolve))));

console.log(requests.snapshot());
console.log(pricing.metrics().total_calls);  // every thread's calls, one breaker
