// Real worker threads counting at once, exact totals, on every backend: each run has the
// main thread and four workers on one backend, and a last run mixes all three (the
// backends share the same cells). Counter sets (striped and not), a labelled counter, a
// gauge and histograms, all updated concurrently from every thread. The labelled counter
// and the `latency` histogram are adaptive (the default): their hammered series inflate
// while the threads count.
import assert from 'node:assert/strict';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';
import { BACKENDS, RUNTIME, start, startFlag, waitForStart } from './lib.mjs';

const N = 20_000;
const THREADS = 4;
const ROUTES = ['/a', '/b', '/c'];

function open(registry) {
  return {
    jobs: registry.counters('jobs', ['ok', 'failed'], { striped: true }),
    plain: registry.counters('plain', ['n'], { striped: false }),
    requests: registry.counter({ name: 'requests_total', help: 'Requests.', labelNames: ['route'] }),
    busy: registry.gauge({ name: 'busy_threads', help: 'Threads counting.' }),
    seconds: registry.histogram({ name: 'job_seconds', help: 'Job time.', labelNames: ['route'], buckets: [0.25, 1], striped: true }),
    latency: registry.histogram({ name: 'job_latency_seconds', help: 'Job latency.', buckets: [0.25, 1] }),
  };
}

if (isMainThread) {
  const runs = [...BACKENDS.map((b) => ({ label: b, main: b, workers: [b, b, b, b] })), { label: 'mixed', main: 'auto', workers: ['auto', 'wasm', 'js', 'wasm'] }];
  for (const run of runs) {
    const registry = StatsRegistry.create({ backend: run.main });
    const m = open(registry);
    const { flag, go } = startFlag();
    const workers = run.workers.map((backend, index) => start(new URL(import.meta.url), { handle: registry.handle, backend, flag, index }));
    for (const w of workers) assert.equal(await w.next(), 'ready');
    go();
    const reports = await Promise.all(workers.map((w) => w.next()));
    await Promise.all(workers.map((w) => w.exited));
    const where = `${RUNTIME}, backend ${run.label}`;
    assert.deepEqual(m.jobs.snapshot(), { ok: THREADS * N, failed: THREADS * (N / 4) * 3 }, where);
    assert.deepEqual(m.plain.snapshot(), { n: THREADS * N }, where);
    const requests = Object.fromEntries((await m.requests.get()).values.map((v) => [v.labels.route, v.value]));
    // Thread i sends i % 3 first: the routes' shares are fixed by N and the thread count.
    const perRoute = Object.fromEntries(ROUTES.map((r) => [r, 0]));
    for (let t = 0; t < THREADS; t++) for (let i = 0; i < N; i++) perRoute[ROUTES[(t + i) % 3]]++;
    assert.deepEqual(requests, perRoute, where);
    assert.equal((await m.busy.get()).values[0].value, 0, where);
    const hist = (await m.seconds.get()).values;
    const value = (name, le) => hist.find((v) => v.metricName === name && v.labels.route === '/a' && (le === undefined || v.labels.le === le))?.value;
    // Every thread observes 0.5 s and 2 s alternately on /a (binary fractions: exact sums).
    assert.equal(value('job_seconds_count'), THREADS * N, where);
    assert.equal(value('job_seconds_sum'), THREADS * (N / 2) * 2.5, where);
    assert.equal(value('job_seconds_bucket', 0.25), 0, where);
    assert.equal(value('job_seconds_bucket', 1), THREADS * (N / 2), where);
    assert.equal(value('job_seconds_bucket', '+Inf'), THREADS * N, where);
    const latency = Object.fromEntries((await m.latency.get()).values.map((v) => [`${v.metricName}${v.labels.le ?? ''}`, v.value]));
    assert.deepEqual(latency, { 'job_latency_seconds_bucket0.25': 0, job_latency_seconds_bucket1: THREADS * (N / 2), 'job_latency_seconds_bucket+Inf': THREADS * N, job_latency_seconds_sum: THREADS * (N / 2) * 2.5, job_latency_seconds_count: THREADS * N }, where);
    // Every worker had an owned stripe of its own (1 + 4 threads on the default stripes).
    const slots = reports.map((r) => r.slot);
    assert.equal(new Set(slots).size, THREADS, `${where}: stripes ${slots}`);
    assert.ok(slots.every((s) => s >= 1 && s < registry.stripes), `${where}: stripes ${slots}`);
    assert.equal(registry.usage().attachmentsWithoutStripe, 0, where);
  }
  console.log(`threads: ${runs.length} runs of ${THREADS} workers x ${N}, exact`);
} else {
  const registry = StatsRegistry.attach(workerData.handle, { backend: workerData.backend });
  const m = open(registry);
  const ok = m.jobs.counter('ok');
  const failed = m.jobs.counter('failed');
  const n = m.plain.counter('n');
  const routes = ROUTES.map((r) => m.requests.labels({ route: r }));
  const a = m.seconds.labels({ route: '/a' });
  const latency = m.latency;
  parentPort.postMessage('ready');
  waitForStart(workerData.flag);
  m.busy.inc();
  for (let i = 0; i < N; i++) {
    ok.inc();
    if (i % 4 === 0) failed.add(3);
    n.inc();
    routes[(workerData.index + i) % 3].inc();
    a.observe(i % 2 === 0 ? 0.5 : 2);
    latency.observe(i % 2 === 0 ? 0.5 : 2);
  }
  m.busy.dec();
  parentPort.postMessage({ slot: registry.slot });
}
