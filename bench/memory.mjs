// Memory per labelled counter series, at 4 worker threads: atomic-stats (striped option
// omitted, `striped: false`, `striped: true`) against @prometheus-io/client 0.16.
//
//   node bench/memory.mjs [--runtime NAME] [--series N] [--workers N] [--reps N] [--stripes N] [--verbose]
//   npm run bench:memory -- --runtime node24
//
// The workload, the same for every column: one labelled counter, `{ tenant: 't' + i }` for
// i < N (1,000), and W (4) worker threads that each touch every series once, as a user
// does who lets the library cache children: `counter.labels({ tenant: 't' + i }).inc()`,
// the label object and its value string made on the spot (what the library keeps of them
// is its cost). The threads start together, so the series are created in a race, as they
// are in an application. Then the main thread scrapes once: atomic-stats' `collect()`,
// @prometheus-io/client's aggregated `workerMetrics()` (it asks every worker for its
// metrics and merges them), and drops what the scrape returned.
//
// What is counted, per series (a delta over the N series, divided by N):
//   shared   atomic-stats: the registry's `usage().usedBytes` after the workers touched
//            every series, minus before (the family record itself is made before: it is
//            per metric, not per series). @prometheus-io/client has no shared memory: 0.
//   worker   each worker's `process.memoryUsage().heapUsed` after full GCs, taken once the
//            main thread's scrape is over (so whatever a worker keeps from answering a
//            scrape counts), minus before touching (the metric object is opened before:
//            per metric). Both libraries' workers alike.
//   main     the main thread's heapUsed after full GCs once the scrape's result is
//            dropped, minus before the scrape: what the scraping thread keeps per series
//            (atomic-stats: its label objects cache and its view of the series table;
//            @prometheus-io/client: what its aggregation keeps). The main thread opened the
//            metric before (atomic-stats), per metric.
//   total    shared + the sum of the W workers + main.
// Each column runs in a fresh process, started with --expose-gc (worker threads cannot be
// given V8 flags through execArgv; a process-wide V8 flag exposes gc() in every thread)
// and --single-threaded-gc (see V8_FLAGS). Two unrecorded rounds first (code compiled,
// caches sized), then --reps rounds, each on a new metric; every figure is the median
// over the rounds (--verbose prints every round). The registry has 8 stripes (--stripes),
// the default on a machine of 2 or 3 cores, so that `striped: true` costs the same everywhere.
//
// @prometheus-io/client needs Node >= 22: on an older Node its column is skipped with a
// note. --runtime NAME runs everything under a runtime of test/runtimes/runtimes.json
// (node22, node24, node26), installed on first use, as bench/run.mjs does.
import { spawnSync } from 'node:child_process';
import { devNull } from 'node:os';
import { writeHeapSnapshot } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const SELF = fileURLToPath(import.meta.url);
// Set in the process this script starts under another runtime: that runtime's name.
const CHILD_ENV = 'ATOMIC_STATS_BENCH_RUNTIME';
const PROM_IO_MIN_NODE = 22;
// gc() for every thread; and no GC work left running on helper threads when a thread reads its heap.
const V8_FLAGS = ['--expose-gc', '--single-threaded-gc'];
// Rounds run before the recorded ones: code compiled, tables and caches at their size.
const WARM_ROUNDS = 2;

const SIDES = {
  'atomic-stats, striped omitted': { lib: 'atomic-stats', options: {} },
  'atomic-stats, striped: false': { lib: 'atomic-stats', options: { striped: false } },
  'atomic-stats, striped: true': { lib: 'atomic-stats', options: { striped: true } },
  '@prometheus-io/client 0.16': { lib: 'prom-io', options: {} },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// This thread's heap in use, live objects only. A forced GC alone leaves heapUsed off by
// up to a V8 page (256 KiB, 256 B a series here) from one measurement to the next, in
// either direction; a heap snapshot written to nowhere makes V8 finish collecting and
// sweeping, and the figure read after it is stable to a few bytes a series. So: two full
// collections with a turn of the event loop between (a GC can free what the one before
// it only made unreachable: weak maps, finalizers), then the snapshot, then the reading.
async function settledHeap() {
  globalThis.gc();
  await new Promise((r) => setImmediate(r));
  globalThis.gc();
  writeHeapSnapshot(devNull);
  return process.memoryUsage().heapUsed;
}

const metricName = (round) => `tenant_requests_round${round}_total`;

if (!isMainThread) await workerMain();
else if (process.argv.includes('--side')) await sideMain();
else orchestrate();

// ---- the orchestrator: one process per column, then the table ----
function orchestrate() {
  const args = process.argv.slice(2);
  const KNOWN = new Set(['--runtime', '--series', '--workers', '--reps', '--stripes', '--verbose']);
  for (const a of args) if (a.startsWith('--') && !KNOWN.has(a)) throw new Error(`bench: unknown option ${a}`);
  const value = (name, dflt) => {
    const i = args.indexOf(name);
    if (i < 0) return dflt;
    if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new Error(`bench: ${name} needs a value`);
    return args[i + 1];
  };
  const runtime = process.env[CHILD_ENV] ?? value('--runtime', 'host');
  if (runtime !== 'host' && process.env[CHILD_ENV] === undefined) {
    reexecUnder(runtime, args);
    return;
  }
  const config = {
    series: Number(value('--series', '1000')),
    workers: Number(value('--workers', '4')),
    reps: Number(value('--reps', '5')),
    stripes: Number(value('--stripes', '8')),
  };
  for (const [k, v] of Object.entries(config)) if (!Number.isInteger(v) || v < 1) throw new Error(`bench: --${k} must be a positive integer`);
  config.verbose = args.includes('--verbose');
  const major = Number(process.versions.node.split('.')[0]);
  console.log(
    `memory per labelled counter series: ${config.series} series { tenant }, ${config.workers} workers each touching every series once, ` +
      `one scrape by the main thread; median of ${config.reps} rounds; Node ${process.versions.node} (${runtime}), stripes ${config.stripes}`,
  );
  const rows = [];
  for (const [name, side] of Object.entries(SIDES)) {
    if (side.lib === 'prom-io' && major < PROM_IO_MIN_NODE) {
      rows.push({ name, lib: side.lib, skipped: `needs Node >= ${PROM_IO_MIN_NODE} (this is ${process.versions.node}); run with --runtime node24` });
      continue;
    }
    const child = spawnSync(process.execPath, [...V8_FLAGS, SELF, '--side', name, JSON.stringify(config)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, [CHILD_ENV]: runtime },
      maxBuffer: 16 << 20,
    });
    if (child.status !== 0) throw new Error(`bench: the ${name} column failed (exit code ${child.status}):\n${child.stdout}`);
    rows.push({ name, lib: side.lib, ...JSON.parse(child.stdout.trim().split('\n').pop()) });
  }
  console.log(`\n${table(rows, config)}`);
  const ours = rows.find((r) => r.name === 'atomic-stats, striped omitted');
  const theirs = rows.find((r) => r.lib === 'prom-io' && !r.skipped);
  if (ours && theirs) {
    const met = ours.total <= theirs.total;
    console.log(`\ntarget: bytes per series at ${config.workers} workers, default options, <= @prometheus-io/client's: ${Math.round(ours.total)} B vs ${Math.round(theirs.total)} B (${(ours.total / theirs.total).toFixed(2)}x): ${met ? 'met' : 'NOT met'}`);
  }
}

function reexecUnder(runtime, args) {
  // Loaded only here: the test helpers are not needed for a run on this Node.
  return import('../test/runtimes/install.mjs').then(({ ensureRuntime, readPins }) => {
    const pins = readPins();
    if (!(runtime in pins) || pins[runtime].kind !== 'node') {
      const nodes = Object.keys(pins).filter((n) => pins[n].kind === 'node');
      throw new Error(`bench: --runtime must be host or one of ${nodes.join(', ')} (got ${runtime})`);
    }
    const rt = ensureRuntime(runtime, { pins, log: (l) => console.log(l) });
    const rest = args.filter((a, i) => a !== '--runtime' && args[i - 1] !== '--runtime');
    console.log(`bench: running under ${runtime} (${rt.kind} ${rt.version})`);
    const child = spawnSync(rt.exe, [SELF, ...rest], { stdio: 'inherit', env: { ...process.env, [CHILD_ENV]: runtime } });
    process.exitCode = child.status ?? 1;
  });
}

function table(rows, config) {
  const b = (x) => `${Math.round(x).toLocaleString('en-US')} B`;
  const w = config.workers;
  const lines = [
    `| per series | shared | heap, each worker (${Array.from({ length: w }, (_, i) => `w${i + 1}`).join(' / ')}) | heap, workers (sum) | heap, main after 1 scrape | total (min–max) |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.name} | skipped: ${r.skipped} | | | | |`);
      continue;
    }
    const workers = r.workers.reduce((s, x) => s + x, 0);
    lines.push(
      `| ${r.name} | ${b(r.shared)} | ${r.workers.map((x) => Math.round(x)).join(' / ')} B | ${b(workers)} | ${b(r.main)} | **${b(r.total)}** (${Math.round(r.totalMin)}–${Math.round(r.totalMax)}) |`,
    );
  }
  const notes = rows.filter((r) => r.skipped).map((r) => `note: ${r.name} skipped: ${r.skipped}`);
  return [...lines, ...notes].join('\n');
}

// ---- one column, in its own process ----
async function sideMain() {
  const i = process.argv.indexOf('--side');
  const side = SIDES[process.argv[i + 1]];
  const config = JSON.parse(process.argv[i + 2]);
  if (typeof globalThis.gc !== 'function') throw new Error('bench: the column process runs with --expose-gc');
  const lib = side.lib === 'atomic-stats' ? await atomicStatsMain(config, side.options) : await promIoMain(config);
  const workers = Array.from({ length: config.workers }, (_, k) => {
    const w = new Worker(SELF, { workerData: { lib: side.lib, options: side.options, config, ...lib.workerData } });
    w.on('error', (e) => {
      console.error(e);
      process.exit(1);
    });
    return w;
  });
  const ask = (op, round) =>
    Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once('message', resolve);
            w.postMessage({ op, round });
          }),
      ),
    );
  await ask('ready', -1);
  await lib.ready?.();
  const rounds = [];
  for (let round = 0; round < WARM_ROUNDS + config.reps; round++) {
    lib.open(round);
    await ask('open', round);
    const sharedBefore = lib.usedBytes();
    await ask('touch', round);
    const shared = lib.usedBytes() - sharedBefore;
    const mainBefore = await settledHeap();
    let scraped = await lib.scrape();
    scraped = undefined;
    void scraped;
    const mainAfter = await settledHeap();
    const heaps = await ask('measure', round);
    const n = config.series;
    if (round >= WARM_ROUNDS) rounds.push({ shared: shared / n, workers: heaps.map((h) => h / n), main: (mainAfter - mainBefore) / n });
  }
  await Promise.all(workers.map((w) => w.terminate()));
  if (config.verbose) for (const r of rounds) console.error(`  ${JSON.stringify(r)}`);
  const totals = rounds.map((r) => r.shared + r.workers.reduce((s, x) => s + x, 0) + r.main);
  const out = {
    shared: median(rounds.map((r) => r.shared)),
    workers: Array.from({ length: config.workers }, (_, k) => median(rounds.map((r) => r.workers[k]))),
    main: median(rounds.map((r) => r.main)),
    total: median(totals),
    totalMin: Math.min(...totals),
    totalMax: Math.max(...totals),
  };
  console.log(JSON.stringify(out));
}

async function atomicStatsMain(config, options) {
  const { StatsRegistry } = await import('../dist/index.js');
  const registry = StatsRegistry.create({ capacityBytes: 256 << 20, stripes: config.stripes });
  return {
    workerData: { handle: registry.handle },
    // The main thread opens each round's metric before its baseline, as the workers do: per metric.
    open: (round) => registry.counter(counterDef(round, config, options)),
    usedBytes: () => registry.usage().usedBytes,
    scrape: async () => registry.collect(),
  };
}

async function promIoMain(config) {
  const { WorkerRegistry } = (await import('@prometheus-io/client')).default;
  const aggregator = new WorkerRegistry();
  return {
    workerData: {},
    // Every worker has announced itself to the aggregator before the first round.
    ready: async () => {
      for (let t = 0; WorkerRegistry.workerCount() < config.workers; t++) {
        if (t > 1000) throw new Error('bench: the workers never announced themselves to the WorkerRegistry');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    open: () => {},
    usedBytes: () => 0,
    scrape: () => aggregator.workerMetrics(),
  };
}

function counterDef(round, config, options) {
  return { name: metricName(round), help: 'Requests per tenant.', labelNames: ['tenant'], maxSeries: config.series, ...options };
}

// ---- a worker thread ----
async function workerMain() {
  const { lib, options, config } = workerData;
  let open;
  if (lib === 'atomic-stats') {
    const { StatsRegistry } = await import('../dist/index.js');
    const registry = StatsRegistry.attach(workerData.handle);
    open = (round) => registry.counter(counterDef(round, config, options));
  } else {
    const { WorkerRegistry, Counter } = (await import('@prometheus-io/client')).default;
    // Its constructor makes this thread answer the main thread's aggregation requests;
    // metrics go to the global registry, the one a WorkerRegistry aggregates by default.
    new WorkerRegistry();
    open = (round) => new Counter({ name: metricName(round), help: 'Requests per tenant.', labelNames: ['tenant'] });
  }
  let counter;
  let before = 0;
  parentPort.on('message', async ({ op, round }) => {
    if (op === 'ready') parentPort.postMessage('ready');
    else if (op === 'open') {
      counter = open(round);
      before = await settledHeap();
      parentPort.postMessage('opened');
    } else if (op === 'touch') {
      for (let i = 0; i < config.series; i++) counter.labels({ tenant: `t${i}` }).inc();
      parentPort.postMessage('touched');
    } else if (op === 'measure') {
      parentPort.postMessage((await settledHeap()) - before);
    }
  });
}
