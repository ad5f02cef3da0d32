// Worker side of test/zero-overlap.threads.test.ts: every worker opens the same unlabelled
// metric and, released together with the others, adds 1 and zeroes it (reset()) in a loop,
// reading the metric now and then: overlapping zeroings must never leave it below zero or
// above every add ever made. Then, between barriers, one worker zeroes it and every worker
// adds `after`: the test checks the exact total.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const OPEN = {
  counter: () => registry.counter({ name: 'zeroed_total', help: 'h' }),
  striped: () => registry.counter({ name: 'zeroed_striped_total', help: 'h', striped: true }),
  float: () => registry.counter({ name: 'zeroed_float_total', help: 'h', float: true }),
  histogram: () => registry.histogram({ name: 'zeroed_seconds', help: 'h', buckets: [0.5, 2] }),
  summary: () => registry.summary({ name: 'zeroed_summary_seconds', help: 'h', percentiles: [0.5] }),
};
const metric = OPEN[d.kind]();
const add = d.kind === 'histogram' || d.kind === 'summary' ? () => metric.observe(1) : () => metric.inc();
// The metric's count and sum (a counter: its value, twice), as numbers.
function read() {
  const s = registry.collect().find((f) => f.name === metric.name).samples[0].value;
  if (typeof s === 'object') return { count: Number(s.count), sum: s.sum };
  return { count: Number(s), sum: Number(s) };
}

function arrive(word) {
  const i32 = new Int32Array(d.barrier);
  Atomics.add(i32, word, 1);
  while (Atomics.load(i32, word) < d.workers);
}

arrive(0);
const bad = [];
let reads = 0;
for (let i = 1; i <= d.iterations; i++) {
  add();
  metric.reset();
  if (i % d.readEvery === 0) {
    const v = read();
    reads++;
    for (const x of [v.count, v.sum]) if (!(x >= 0 && x <= d.workers * d.iterations) && bad.length < 5) bad.push(v);
  }
}
arrive(1);
if (d.index === 0) metric.reset();
arrive(2);
for (let i = 0; i < d.after; i++) add();
arrive(3);
parentPort.postMessage({ bad, reads });
