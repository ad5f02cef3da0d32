// The README's quick start: a registry in the main thread, four workers attached to it,
// one snapshot read at the end. Run with `node examples/quickstart/main.mjs` after a build.
import { Worker } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

const registry = StatsRegistry.create();
const requests = registry.counters('http', ['ok', 'failed'], { striped: true });

const workers = [1, 2, 3, 4].map(
  () => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: registry.handle }),
);
await Promise.all(workers.map((w) => new Promise((r) => w.on('exit', r))));

console.log(requests.snapshot()); // { ok: 400000, failed: 0 }
