// Worker side of test/remove.threads.test.ts: each worker writes its own series through
// children it caches, round after round, while the main thread removes every series
// between rounds. Even workers never pass a slow path (their children stay on the
// removed series' memory for good); odd workers read the metric every few writes (a
// slow path: their children learn of the removal and re-create the series).
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const sync = new Int32Array(d.sync); // [0] rounds released by the main thread, [1] rounds done
const counter = registry.counter({ name: 'rm_total', help: 'R.', labelNames: ['w'], maxSeries: d.maxSeries });
const hist = registry.histogram({ name: 'rm_seconds', help: 'R.', labelNames: ['w'], buckets: [1], maxSeries: d.maxSeries });
const w = String(d.index);
const c = counter.labels({ w });
const h = hist.labels(w);
const slow = d.index % 2 === 1;
parentPort.postMessage('ready');
for (let round = 0; round < d.rounds; round++) {
  while (Atomics.load(sync, 0) <= round) Atomics.wait(sync, 0, round);
  for (let i = 0; i < d.iterations; i++) {
    c.inc();
    h.observe(0.5);
    if (slow && i % 97 === 0) {
      void counter.get();
      void hist.get();
    }
  }
  Atomics.add(sync, 1, 1);
  Atomics.notify(sync, 1);
}
while (Atomics.load(sync, 0) <= d.rounds) Atomics.wait(sync, 0, d.rounds);
parentPort.postMessage({ writes: d.rounds * d.iterations });
