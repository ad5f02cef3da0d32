import { workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';
import { CHECKOUT, ORDERS } from './metrics.mjs';

const registry = StatsRegistry.attach(workerData.handle);
const orders = registry.counter(ORDERS).labels({ region: workerData.region });
const checkout = registry.histogram(CHECKOUT);

// Each worker places 1,000 orders; every tenth checkout is slow. The durations are exact
// binary fractions, so the sums the example prints are exact.
for (let i = 0; i < 1000; i++) {
  orders.inc();
  checkout.observe(i % 10 === 0 ? 0.75 : 0.0625);
}
