// Worker side of test/adaptive-gauge.threads.test.ts. Every mode opens the same adaptive
// (default) labelled gauge and writes or reads its series:
//   hammer      inc/dec the same series as every other writer, so that their base cells
//               see contention and the series inflate (rounds of exact dyadic amounts)
//   read        reads the gauge meanwhile: a series that only ever grows must never read lower
//   phased      adds until the series inflated, waits for every writer, one of them sets,
//               waits again, then adds a known amount: the final value is exact
//   add         adds 1 at a time, recording its progress after each add, until told to stop
//   set         waits for the series to inflate, then sets it now and then, reading the
//               adders' progress around each set
//   watch       reads the series while it is set and added to: a read that sees a set's
//               value holds no add finished before that set began
//   killable    adds 1 at a time with its progress recorded after each, until terminated
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const gauge = registry.gauge({ name: 'adaptive_gauge', help: 'h', labelNames: ['s'] });
const published = () => gauge.stripeBlocks().published;
// The values a setter sets: multiples of this, far above every sum of adds in the test.
const SET_STEP = 1_000_000_000;

function waitForStart() {
  parentPort.postMessage('ready');
  Atomics.wait(new Int32Array(d.start), 0, 0);
}

// Every thread of the group at `word` before any goes on.
function arrive(word, count) {
  const i32 = new Int32Array(d.barrier);
  Atomics.add(i32, word, 1);
  while (Atomics.load(i32, word) < count);
}

if (d.mode === 'hammer') {
  const series = d.series.map((s) => gauge.labels(s));
  const up = gauge.labels('up');
  waitForStart();
  // Every writer running before any writes: on a small machine a thread woken late would
  // otherwise often find the others done, and nothing would contend.
  arrive(0, d.writers);
  // At least d.n / 1000 rounds, then on until every hammered series inflated (at most 5 s):
  // the test computes the totals from the rounds reported. Every amount and partial sum is
  // exact in binary, so the totals are exact whatever the order of the adds.
  const all = d.series.length + 1;
  const end = Date.now() + 5000;
  let rounds = 0;
  while (rounds < d.n / 1000 || (published() < all && Date.now() < end)) {
    for (const s of series) {
      for (let k = 0; k < 1000; k++) s.inc();
      for (let k = 0; k < 500; k++) s.dec(0.5);
      for (let k = 0; k < 250; k++) s.inc(0.25);
    }
    for (let k = 0; k < 500; k++) up.inc();
    rounds++;
  }
  Atomics.add(new Int32Array(d.done), 0, 1);
  parentPort.postMessage({ rounds });
} else if (d.mode === 'read') {
  const stop = new Int32Array(d.stop);
  waitForStart();
  let reads = 0;
  let last = -Infinity;
  const backwards = [];
  while (Atomics.load(stop, 0) === 0 || reads < 2) {
    for (const f of registry.collect()) {
      if (f.name !== 'adaptive_gauge') continue;
      for (const s of f.samples) {
        if (s.labels.s !== 'up') continue;
        if (s.value < last) backwards.push({ last, value: s.value });
        last = s.value;
      }
    }
    reads++;
  }
  parentPort.postMessage({ reads, backwards: backwards.slice(0, 5) });
} else if (d.mode === 'phased') {
  const s = gauge.labels('p');
  waitForStart();
  arrive(0, d.writers);
  // Until the series inflated (at least d.n adds, at most 5 s): these adds are all erased by the set.
  const end = Date.now() + 5000;
  let adds = 0;
  while (adds < d.n || (published() === 0 && Date.now() < end)) {
    for (let k = 0; k < 100; k++) s.inc();
    adds += 100;
  }
  arrive(1, d.writers);
  let inflatedAtSet;
  if (d.index === 0) {
    inflatedAtSet = published() === 1;
    s.set(d.x);
  }
  arrive(2, d.writers);
  for (let k = 0; k < d.after; k++) s.inc();
  for (let k = 0; k < d.after; k++) s.dec(0.5);
  parentPort.postMessage({ adds, inflatedAtSet });
} else if (d.mode === 'add') {
  const s = gauge.labels('race');
  const progress = new Int32Array(d.progress);
  const stop = new Int32Array(d.stop);
  waitForStart();
  let k = 0;
  while (Atomics.load(stop, 0) === 0) {
    for (let j = 0; j < 64; j++) {
      s.inc();
      Atomics.store(progress, d.index, ++k);
    }
  }
  parentPort.postMessage({ adds: k });
} else if (d.mode === 'set') {
  // Reads the adders' progress before a set (p0: adds finished before it began, all erased
  // by it) and after (p1: any add not counted there, but the one in flight in each adder,
  // began after it ended, so it is kept).
  const s = gauge.labels('race');
  const progress = new Int32Array(d.progress);
  const stop = new Int32Array(d.stop);
  const announced = new Int32Array(d.announced);
  const total = () => progress.reduce((sum, _, i) => sum + Atomics.load(progress, i), 0);
  waitForStart();
  const end = Date.now() + 5000;
  while (published() === 0 && Date.now() < end);
  const inflatedAtSet = published() === 1;
  let last;
  // d.sets sets, or as many as 3 s allow on a busy machine.
  const until = Date.now() + 3000;
  for (let i = 0; i < d.sets && (i === 0 || Date.now() < until); i++) {
    const wait = total() + 50 + Math.floor(Math.random() * 500);
    while (total() < wait);
    const x = SET_STEP * (i + 1);
    const p0 = total();
    Atomics.store(announced, i, p0);
    s.set(x);
    const p1 = total();
    last = { x, p0, p1 };
  }
  // Adds after the last set, before the adders stop.
  const more = total() + 5000;
  while (total() < more);
  Atomics.store(stop, 0, 1);
  parentPort.postMessage({ last, inflatedAtSet });
} else if (d.mode === 'watch') {
  // A value v read in [x, x + SET_STEP) was read after set x began (the adds never reach
  // SET_STEP), so what it holds beyond x are adds not finished before that set began (at
  // most those not counted in its p0, plus one in flight per adder): more means the read
  // saw the set's value with stripes the set had not cleared yet.
  const progress = new Int32Array(d.progress);
  const stop = new Int32Array(d.stop);
  const announced = new Int32Array(d.announced);
  const total = () => progress.reduce((sum, _, i) => sum + Atomics.load(progress, i), 0);
  waitForStart();
  let reads = 0;
  let seen = 0;
  const over = [];
  while (Atomics.load(stop, 0) === 0) {
    for (const f of registry.collect()) {
      if (f.name !== 'adaptive_gauge') continue;
      for (const x of f.samples) {
        if (x.labels.s !== 'race') continue;
        const i = Math.floor(x.value / SET_STEP) - 1;
        if (i < 0) continue;
        seen++;
        const bound = total() - Atomics.load(announced, i) + progress.length;
        if (x.value - SET_STEP * (i + 1) > bound) over.push({ set: i, value: x.value, bound });
      }
    }
    reads++;
  }
  parentPort.postMessage({ reads, seen, over: over.slice(0, 5) });
} else if (d.mode === 'killable') {
  const progress = new Int32Array(d.progress);
  const s = gauge.labels(d.series);
  parentPort.postMessage('ready');
  for (let k = 1; ; k++) {
    s.inc();
    Atomics.store(progress, d.index, k);
  }
}
