// Worker side of test/adaptive-cells.threads.test.ts. Writers hammer the same series of
// an adaptive counter, float counter and histogram, so that their base cells see
// contention and the series inflate; a reader reads them meanwhile; a killable writer
// records its progress after each write, so that the test can bound what a terminated
// thread wrote.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const opts = d.striped === undefined ? {} : { striped: d.striped };
const ints = registry.counter({ name: 'adaptive_ints_total', help: 'h', labelNames: ['s'], ...opts });
const floats = registry.counter({ name: 'adaptive_floats_total', help: 'h', labelNames: ['s'], float: true, ...opts });
const hist = registry.histogram({ name: 'adaptive_seconds', help: 'h', labelNames: ['s'], buckets: [0.25, 0.5, 1], ...opts });

function waitForStart() {
  parentPort.postMessage('ready');
  Atomics.wait(new Int32Array(d.start), 0, 0);
}

// The package's warnings this thread emitted (a refused inflation's), reported with the result.
const warnings = [];
process.on('warning', (w) => {
  if (w.name === 'AtomicStatsWarning') warnings.push(`${w.code}: ${w.message}`);
});

if (d.mode === 'write') {
  const series = d.series.map((s) => ({ i: ints.labels(s), f: floats.labels(s), h: hist.labels(s) }));
  waitForStart();
  // Every writer running before any writes: on a small machine a thread woken late would
  // otherwise often find the others done, and nothing would contend.
  const running = new Int32Array(d.barrier);
  Atomics.add(running, 0, 1);
  while (Atomics.load(running, 0) < d.writers);
  // 0.25 per float inc and observations of 0.25 and 0.75: every partial sum is exact in
  // binary. At least d.n / 1000 rounds, and then on until every hammered series has
  // inflated (the threads did contend: on a busy machine they may at first have taken
  // turns), for at most 5 s; the test computes the totals from the rounds reported.
  // d.until 'refused': on until the registry refused a block (it has no room for one).
  const inflated =
    d.until === 'refused' ? () => registry.usage().inflationsRefused > 0 : () => [ints, floats, hist].every((m) => m.stripeBlocks().published === d.series.length);
  const end = Date.now() + 5000;
  let rounds = 0;
  while (rounds < d.n / 1000 || (!inflated() && Date.now() < end)) {
    for (const s of series) {
      for (let k = 0; k < 1000; k++) s.i.inc();
      s.i.inc(3);
      for (let k = 0; k < 250; k++) s.f.inc(0.25);
      for (let k = 0; k < 250; k++) s.h.observe(k & 1 ? 0.75 : 0.25);
    }
    rounds++;
  }
  if (d.done !== undefined) Atomics.add(new Int32Array(d.done), 0, 1);
  await new Promise((resolve) => setTimeout(resolve, 20)); // a warning arrives on a later tick
  parentPort.postMessage({ slot: registry.slot, rounds, warnings });
} else if (d.mode === 'read') {
  // Reads until every writer is done (d.stop), and reports any total that went backwards.
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
      if (!f.name.startsWith('adaptive_')) continue;
      for (const s of f.samples) {
        const key = `${f.name}${JSON.stringify(s.labels)}`;
        if (typeof s.value === 'object') {
          check(`${key}:count`, Number(s.value.count));
          check(`${key}:sum`, s.value.sum);
        } else check(key, Number(s.value));
      }
    }
    reads++;
  }
  parentPort.postMessage({ reads, backwards: backwards.slice(0, 5), inflatedBytesSeen: registry.usage().inflatedBytes });
} else if (d.mode === 'killable') {
  // One write at a time, its progress recorded after it: a thread terminated between the
  // two has written one more than it recorded.
  const progress = new Int32Array(d.progress);
  const c = ints.labels(d.series[0]);
  const h = hist.labels(d.series[0]);
  parentPort.postMessage('ready');
  for (let k = 1; ; k++) {
    c.inc();
    h.observe(0.25);
    Atomics.store(progress, d.index, k);
  }
}
