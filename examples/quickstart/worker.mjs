// worker.mjs
import { workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

const registry = StatsRegistry.attach(workerData);      // once per thread
const requests = registry.counters('requests', ['ok', 'failed'], { striped: true });
const ok = requests.counter('ok');                      // cache the handles
const failed = requests.counter('failed');
const pricing = registry.circuitBreaker('pricing-api');  // the main thread's breaker, its config

const getPrice = async (sku, { signal }) => sku.length; // your fetch / query, given the signal

for (let i = 0; i < 100; i++) {
  try {
    await pricing.call(({ signal }) => getPrice(`sku-${i}`, { signal }), { timeoutMs: 500 });
    ok.inc();
  } catch {
    failed.inc();                                       // failed, timed out, or refused
  }
}
