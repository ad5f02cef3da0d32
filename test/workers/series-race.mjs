// Worker side of test/cardinality-race.threads.test.ts: in each trial every worker
// creates series of one fresh family at the same moment (a barrier per trial), from
// lists that overlap and together name exactly maxSeries series, and reports every
// refusal it met.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const barrier = new Int32Array(d.barrier);

// Everyone arrives, the last one wakes the rest: trials start together.
function arrive(trial) {
  const target = (trial + 1) * d.workers;
  if (Atomics.add(barrier, 0, 1) + 1 === target) {
    Atomics.notify(barrier, 0);
    return;
  }
  for (let v = Atomics.load(barrier, 0); v < target; v = Atomics.load(barrier, 0)) Atomics.wait(barrier, 0, v);
}

const refused = [];
parentPort.postMessage('ready');
for (let t = 0; t < d.trials; t++) {
  const c = registry.counter({ name: `t_card_${t}_total`, help: 'Race.', labelNames: ['v'], maxSeries: d.maxSeries });
  // Even trials: every worker in the same order (each series raced by all). Odd trials:
  // each worker starts elsewhere in the list.
  const shift = t % 2 === 0 ? 0 : Math.floor((d.index * d.maxSeries) / d.workers);
  const order = Array.from({ length: d.maxSeries }, (_, i) => `v${(i + shift) % d.maxSeries}`);
  arrive(t);
  for (const v of order) {
    try {
      c.inc({ v });
    } catch (e) {
      if (e.code !== 'ERR_CARDINALITY_LIMIT') throw e;
      refused.push({ trial: t, v });
    }
  }
}
parentPort.postMessage({ refused });
