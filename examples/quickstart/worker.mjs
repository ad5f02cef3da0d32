import { workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

const registry = StatsRegistry.attach(workerData); // same memory, same counters
const ok = registry.counters('http', ['ok', 'failed'], { striped: true }).counter('ok');
for (let i = 0; i < 100_000; i++) ok.inc();
