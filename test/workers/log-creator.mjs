// Worker side of test/published-log.test.ts: creates labelled series (its own label values
// and values every worker shares) while the main thread keeps reading them.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const c = registry.counter({ name: 't_log_total', help: 'Series created while read.', labelNames: ['k'], maxSeries: d.maxSeries });
const flag = d.start;
parentPort.postMessage('ready');
Atomics.wait(flag, 0, 0);
// A pause now and then spreads the creations over about 100 ms, so the reader's reads
// land while records are being published, not only before and after.
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < d.own; i++) {
  if (i % 20 === 19) Atomics.wait(nap, 0, 0, 1);
  c.inc({ k: `w${d.index}-${i}` });
  // Every few own series, one that every worker creates (the first creates, the rest find it).
  if (i % 10 === 0) c.inc({ k: `shared-${i / 10}` });
}
parentPort.postMessage({ done: d.own });
