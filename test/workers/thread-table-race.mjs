// Worker side of test/thread-table.threads.test.ts: the thread table's publication protocol
// (src/threads/table.ts, bundled for the test into workerData.bundle) raced for real.
//   'writer'  publishes sets 1..count into slot 0: every f64 figure, the threadId, the
//             interval and the active resources of set k are all k, and its name is k's digits
//             repeated to a length that depends on k; then sets the done flag;
//   'reader'  reads slot 0 until the done flag, checking every set it gets: all of one k,
//             and k never smaller than the last one read.
import { parentPort, workerData } from 'node:worker_threads';

const d = workerData;
const { ThreadTable } = await import(d.bundle);
const done = new Int32Array(d.flags, 0, 1);
const stripes = { i32: new Int32Array(d.flags), word: 4, count: 1 };
const table = new ThreadTable(d.buffer, 0, 1, stripes);

const nameOf = (k) => String(k).repeat(1 + (k % 9)).slice(0, 64);

if (d.role === 'writer') {
  const values = new Float64Array(15);
  const p = { state: 1, threadId: 0, intervalMs: 0, name: new Uint8Array(), activeResources: 0, values };
  for (let k = 1; k <= d.count; k++) {
    p.threadId = k;
    p.intervalMs = k;
    p.activeResources = k;
    p.name = new TextEncoder().encode(nameOf(k));
    values.fill(k);
    table.publish(0, p);
  }
  Atomics.store(done, 0, 1);
  parentPort.postMessage({ published: d.count });
} else {
  let reads = 0;
  let gaveUp = 0;
  let torn = 0;
  let backwards = 0;
  let last = 0;
  while (Atomics.load(done, 0) === 0) {
    const f = table.read(0);
    if (f === undefined) {
      gaveUp++;
      continue;
    }
    reads++;
    const k = f.threadId;
    if (f.intervalMs !== k || f.activeResources !== k || f.name !== nameOf(k) || f.values.some((v) => v !== k)) torn++;
    if (k < last) backwards++;
    last = k;
  }
  parentPort.postMessage({ reads, gaveUp, torn, backwards, last });
}
