// One thread of a multi-thread case. Waits on the shared control words so that every
// thread starts a round at the same moment, runs the round's operations in chunks
// (a chunk is one call of the case's run(n): the harness's own cost is paid once per
// chunk, not per operation), and reports how many operations it completed.
import { workerData, parentPort } from 'node:worker_threads';
import { GO, READY, DONE, OPS, STOP_ROUND } from './control.mjs';

const { file, id, data, index, control, chunk } = workerData;
const ctrl = new Int32Array(control);
const mod = await import(file);
const impl = await mod.prepare(id, data, index);

let completed = 0;
Atomics.add(ctrl, READY, 1);
Atomics.notify(ctrl, READY);
for (let round = 0; ; ) {
  Atomics.wait(ctrl, GO, round);
  round = Atomics.load(ctrl, GO);
  if (round === STOP_ROUND) break;
  const ops = Atomics.load(ctrl, OPS);
  for (let done = 0; done < ops; done += chunk) impl.run(chunk);
  completed += ops;
  Atomics.add(ctrl, DONE, 1);
  Atomics.notify(ctrl, DONE);
}
parentPort.postMessage({ completed, report: impl.report ? await impl.report() : undefined });
