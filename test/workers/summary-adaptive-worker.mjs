// Worker side of test/summary-adaptive.threads.test.ts. Writers hammer the same series of
// three summaries (adaptive without a window, adaptive with a 10 ms period, and
// `striped: false`), so that their count and sum see contention and the adaptive ones
// inflate; a reader reads them meanwhile; a killable writer records its progress after
// each observation, so that the test can bound what a terminated thread wrote.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const plain = registry.summary({ name: 'sa_plain_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5] });
const windowed = registry.summary({ name: 'sa_window_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5], maxAgeSeconds: 0.05, ageBuckets: 5 });
const fixed = registry.summary({ name: 'sa_fixed_seconds', help: 'h', labelNames: ['s'], percentiles: [0.5], striped: false });

// Per round of 250: 100 x 0.25, 100 x 0.75, 50 x 1 (1 is 16 buckets above 0.25: the same
// cache entry, so it goes to the shared slice while 0.25 holds the entry). Every partial
// sum is exact in binary.
const value = (k) => (k % 5 < 2 ? 0.25 : k % 5 < 4 ? 0.75 : 1);

function waitForStart() {
  parentPort.postMessage('ready');
  Atomics.wait(new Int32Array(d.start), 0, 0);
}

if (d.mode === 'write') {
  const series = d.series.map((s) => ({ p: plain.labels(s), w: windowed.labels(s), f: fixed.labels(s) }));
  waitForStart();
  // Every writer running before any writes (on a small machine a thread woken late would
  // otherwise find the others done, and nothing would contend).
  const running = new Int32Array(d.barrier);
  Atomics.add(running, 0, 1);
  while (Atomics.load(running, 0) < d.writers);
  // At least d.rounds rounds, then on until every hammered adaptive series has inflated
  // (the threads did contend), for at most 5 s; the test computes the totals from the rounds.
  const inflated = () => [plain, windowed].every((m) => m.stripeBlocks().published === d.series.length);
  const end = Date.now() + 5000;
  let rounds = 0;
  while (rounds < d.rounds || (!inflated() && Date.now() < end)) {
    for (const s of series) {
      for (let k = 0; k < 250; k++) s.p.observe(value(k));
      for (let k = 0; k < 250; k++) s.w.observe(value(k));
      for (let k = 0; k < 250; k++) s.f.observe(value(k));
    }
    rounds++;
  }
  if (d.done !== undefined) Atomics.add(new Int32Array(d.done), 0, 1);
  parentPort.postMessage({ rounds });
} else if (d.mode === 'read') {
  // Reads until every writer is done (d.stop), and reports any count, sum or bucket count
  // of the window (the windowless summaries': they only grow) that went backwards.
  const stop = new Int32Array(d.stop);
  waitForStart();
  let reads = 0;
  const backwards = [];
  const last = new Map();
  const check = (key, v) => {
    const prev = last.get(key) ?? -Infinity;
    if (v < prev) backwards.push({ key, prev, v });
    last.set(key, v);
  };
  while (Atomics.load(stop, 0) === 0 || reads < 2) {
    for (const f of registry.collect()) {
      if (!f.name.startsWith('sa_')) continue;
      for (const s of f.samples) {
        const key = `${f.name}${JSON.stringify(s.labels)}`;
        check(`${key}:count`, Number(s.value.count));
        check(`${key}:sum`, s.value.sum);
      }
    }
    for (const m of [plain, fixed]) {
      for (const s of d.series) for (const [b, c] of m.windowCounts({ s }) ?? []) check(`${m.name}{${s}}:bucket ${b}`, c);
    }
    reads++;
  }
  parentPort.postMessage({ reads, backwards: backwards.slice(0, 5) });
} else if (d.mode === 'killable') {
  // One observation of each adaptive summary at a time, its progress recorded after it: a
  // thread terminated between the two has written one more than it recorded.
  const progress = new Int32Array(d.progress);
  const p = plain.labels(d.series[0]);
  const w = windowed.labels(d.series[0]);
  parentPort.postMessage('ready');
  for (let k = 1; ; k++) {
    p.observe(value(k));
    w.observe(value(k));
    Atomics.store(progress, d.index, k);
  }
}
