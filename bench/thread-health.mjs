// What monitoring costs a thread (docs/benchmarks.md, "Thread health"): the CPU time of
// idle worker threads, unmonitored and monitored (registry.monitorThread) at the defaults
// (a 1 s interval, the delay sampled every 20 ms), with the delay sampled every 10 ms, and
// at a 100 ms interval, as a share of one core.
//
//   node bench/thread-health.mjs [--reps N] [--threads N] [--window-ms MS]
//
// Each repetition runs the three configurations one after another, in a rotating order,
// each with `--threads` fresh workers (default 4) that attach, start monitoring or not,
// warm up for 1 s, and then idle in their event loop for the window (default 5 s): their
// own CPU time over the window comes from /proc/thread-self/schedstat (Linux), which
// counts only the thread that reads it, to the nanosecond. The cost of monitoring is the
// difference between a monitored thread's share and an unmonitored one's in the same
// repetition; the table gives the median (min-max) over the repetitions. An idle thread
// is the worst case for the share: whatever else a thread does, monitoring costs it the
// same absolute time. Run `npm run build` first.
import { Worker } from 'node:worker_threads';
import os from 'node:os';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const reps = opt('--reps', 5);
const threads = opt('--threads', 4);
const windowMs = opt('--window-ms', 5000);

const CONFIGS = [
  { name: 'idle thread, not monitored', intervalMs: 0 },
  { name: 'monitorThread() at the default 1 s', intervalMs: 1000 },
  { name: 'monitorThread({ delayResolutionMs: 10 }) (prom-client\'s delay period)', intervalMs: 1000, delayResolutionMs: 10 },
  { name: 'monitorThread({ intervalMs: 100 })', intervalMs: 100 },
];

const WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
import { openSync, readSync } from 'node:fs';
const { StatsRegistry } = await import(workerData.dist);
const fd = openSync('/proc/thread-self/schedstat', 'r');
const buf = Buffer.alloc(128);
const runNs = () => Number(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ')[0]);
const registry = StatsRegistry.attach(workerData.handle);
const options = { name: 'bench', intervalMs: workerData.intervalMs, ...(workerData.delayResolutionMs && { delayResolutionMs: workerData.delayResolutionMs }) };
const monitor = workerData.intervalMs > 0 ? registry.monitorThread(options) : undefined;
setTimeout(() => {
  const t0 = process.hrtime.bigint();
  const r0 = runNs();
  setTimeout(() => {
    const r1 = runNs();
    const t1 = process.hrtime.bigint();
    parentPort.postMessage({ share: (r1 - r0) / Number(t1 - t0), slot: monitor?.slot });
    monitor?.stop();
    registry.close();
  }, workerData.windowMs);
}, 1000);
`;

async function phase(registry, { intervalMs, delayResolutionMs }) {
  const dist = new URL('../dist/index.js', import.meta.url).href;
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { dist, handle: registry.handle, intervalMs, delayResolutionMs, windowMs } }));
  const shares = await Promise.all(
    workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once('message', (m) => {
            if (intervalMs > 0 && !(m.slot >= 0)) reject(new Error('a bench thread got no slot'));
            resolve(m.share);
          });
          w.once('error', reject);
        }),
    ),
  );
  await Promise.all(workers.map((w) => w.terminate()));
  return shares.reduce((a, b) => a + b, 0) / shares.length;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (x) => `${(x * 100).toFixed(3)}%`;

const { StatsRegistry } = await import(new URL('../dist/index.js', import.meta.url).href);
const registry = StatsRegistry.create({ stripes: 64 });
const results = CONFIGS.map(() => []);
for (let rep = 0; rep < reps; rep++) {
  for (let k = 0; k < CONFIGS.length; k++) {
    const i = (k + rep) % CONFIGS.length;
    results[i].push(await phase(registry, CONFIGS[i]));
  }
  process.stderr.write(`rep ${rep + 1}/${reps}: ${results.map((r) => pct(r.at(-1))).join(' ')}\n`);
}

const started = new Date().toISOString().slice(0, 16);
console.log(`run ${started}Z, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}; ${threads} idle worker threads per configuration, ${windowMs / 1000} s windows, median (min–max) over ${reps} repetitions.\n`);
console.log('| configuration | CPU per thread, share of one core | cost of monitoring (vs not monitored, same repetition) |');
console.log('|---|---:|---:|');
for (let i = 0; i < CONFIGS.length; i++) {
  const r = results[i];
  const cost = r.map((x, rep) => x - results[0][rep]);
  const range = (xs) => `${pct(median(xs))} (${pct(Math.min(...xs))}–${pct(Math.max(...xs))})`;
  console.log(`| ${CONFIGS[i].name} | ${range(r)} | ${i === 0 ? '–' : range(cost)} |`);
}
