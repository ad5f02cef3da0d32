// A single-thread case under tinybench, in a fresh worker so that no other case's JIT
// feedback (a call site that saw other shapes) colours its numbers. Each tinybench
// iteration runs `chunk` operations; samples are divided by chunk to give ns/op.
import { workerData, parentPort } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { summarize } from './stats.mjs';

const { file, id, data, chunk, timeMs } = workerData;
const mod = await import(file);
const impl = await mod.prepare(id, data, 0);
let completed = 0;
const bench = new Bench({ time: timeMs, warmupTime: Math.min(200, timeMs / 2), retainSamples: true, throws: true });
if (impl.runAsync) {
  bench.add(id, async () => {
    await impl.runAsync(chunk);
    completed += chunk;
  });
} else {
  bench.add(id, () => {
    impl.run(chunk);
    completed += chunk;
  });
}
await bench.run();
const task = bench.tasks[0];
const latency = task.result.latency; // ms per iteration
const nsPerOp = [...latency.samples].map((ms) => (ms * 1e6) / chunk);
parentPort.postMessage({ completed, stats: summarize(nsPerOp), report: impl.report ? await impl.report() : undefined });
