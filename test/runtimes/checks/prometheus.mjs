// Labelled metrics from worker threads, scraped through a Prometheus client's Registry:
//   prometheus.mjs prom-client | @prometheus-io/client [--without-prom-client]
// Families created after registration (the workers' label series) are in the scrape, and
// so is the health of every thread (all of them monitored); the text is exactly what is
// expected, in the text format and in OpenMetrics, and promtool finds nothing to report
// in it. With --without-prom-client (run.mjs runs it so in a project that has only
// @prometheus-io/client installed), prom-client must not be installed, and the adapter
// works without it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { InvalidOptionsError, StatsRegistry } from 'atomic-stats';
import { registerAtomicStats } from 'atomic-stats/prometheus';
import { BACKENDS, RUNTIME, start, until } from './lib.mjs';

const N = 1000;
const THREADS = 3;

function open(registry) {
  return {
    requests: registry.counter({ name: 'http_requests_total', help: 'Requests served.', labelNames: ['route', 'code'] }),
    latency: registry.histogram({ name: 'http_request_duration_seconds', help: 'Time to answer.', labelNames: ['route'], buckets: [0.1, 1], striped: true }),
    busy: registry.gauge({ name: 'workers_busy', help: 'Workers at work.' }),
  };
}

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, problems: `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

if (isMainThread) {
  const clientName = process.argv[2];
  assert.ok(['prom-client', '@prometheus-io/client'].includes(clientName), 'usage: prometheus.mjs prom-client|@prometheus-io/client');
  const client = await import(clientName);
  const Registry = client.Registry ?? client.default.Registry;
  const Counter = client.Counter ?? client.default.Counter;
  const registry = StatsRegistry.create();
  if (process.argv.includes('--without-prom-client')) {
    await assert.rejects(import('prom-client'), 'prom-client is not installed here');
    // Without prom-client there is no default Registry: a typed error, and nothing registered.
    assert.throws(() => registerAtomicStats(registry), (err) => err instanceof InvalidOptionsError && err.option === 'register' && /prom-client is not installed/.test(err.message));
  }
  const prom = new Registry();
  const app = new Counter({ name: 'app_started_total', help: 'Application starts.', registers: [prom] });
  app.inc();
  // Registered before any metric exists: the workers create every family and series.
  const exp = registerAtomicStats(registry, { register: prom });
  // Every thread monitors its health: the scrape carries it under a `thread` label.
  const monitor = registry.monitorThread({ name: 'main', intervalMs: 50 });
  const workers = [0, 1, 2].map((i) => start(new URL(import.meta.url), { handle: registry.handle, backend: BACKENDS[i] }));
  await Promise.all(workers.map((w) => w.exited));
  // At least one interval's event-loop delay samples folded into the main thread's slot:
  // every runtime here has a delay sampler, whatever it gives its figures as.
  const thread = String(monitor.slot);
  await until(
    () => registry.collect().find((f) => f.name === 'atomic_stats_thread_eventloop_delay_seconds')?.samples.some((s) => s.labels.thread === thread && s.value.count > 0n),
    "the main thread's event-loop delay samples",
  );
  const text = await prom.metrics();
  const lines = text.split('\n');
  // Thread health: the gauges of the main thread alone (the workers ended: theirs are gone),
  // the info of its slot, the GC histogram of every slot used, the process figures once.
  for (const family of ['nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_resources', 'atomic_stats_thread_heartbeat_age_seconds', 'atomic_stats_thread_eventloop_utilization_ratio']) {
    const series = lines.filter((l) => l.startsWith(`${family}{`));
    assert.equal(series.length, 1, `${clientName}: one ${family} series, the main thread's:\n${series.join('\n')}`);
    assert.ok(series[0].startsWith(`${family}{thread="${thread}"} `), series[0]);
  }
  assert.ok(lines.includes(`atomic_stats_thread_info{thread="${thread}",thread_id="0",name="main"} 1`), `${clientName}: the main thread's info:\n${text}`);
  assert.ok(lines.some((l) => l.startsWith(`nodejs_gc_duration_seconds_count{thread="${thread}",kind="major"} `)), `${clientName}: the main thread's GC histogram`);
  assert.ok(lines.filter((l) => l.startsWith('nodejs_gc_duration_seconds_count{') && l.includes('kind="major"')).length >= 2, `${clientName}: the workers' slots keep their GC histograms`);
  assert.equal(lines.filter((l) => l.startsWith('process_start_time_seconds ')).length, 1, `${clientName}: the process figures once`);
  monitor.stop();
  const expected = [
    '# HELP app_started_total Application starts.',
    '# TYPE app_started_total counter',
    'app_started_total 1',
    '# HELP http_requests_total Requests served.',
    '# TYPE http_requests_total counter',
    `http_requests_total{code="200",route="/users"} ${THREADS * N * 0.9}`,
    `http_requests_total{code="500",route="/users"} ${THREADS * N * 0.1}`,
    '# HELP http_request_duration_seconds Time to answer.',
    '# TYPE http_request_duration_seconds histogram',
    `http_request_duration_seconds_bucket{le="0.1",route="/users"} ${(THREADS * N) / 2}`,
    `http_request_duration_seconds_bucket{le="1",route="/users"} ${THREADS * N}`,
    `http_request_duration_seconds_bucket{le="+Inf",route="/users"} ${THREADS * N}`,
    `http_request_duration_seconds_sum{route="/users"} ${(THREADS * N) / 2 * 0.5625}`,
    `http_request_duration_seconds_count{route="/users"} ${THREADS * N}`,
    '# HELP workers_busy Workers at work.',
    '# TYPE workers_busy gauge',
    `workers_busy ${THREADS}`,
    // The registry's own families: three workers attached, each handed its stripe back.
    'atomic_stats_registry_attachments_total 4',
    'atomic_stats_registry_attachments_without_stripe_total 0',
    'atomic_stats_registry_stripes_in_use 1',
  ];
  for (const line of expected) assert.ok(lines.includes(line), `${clientName}: the scrape has ${JSON.stringify(line)}:\n${text}`);
  // Each family's lines in one block, in this order.
  for (const [from, to] of [[3, 7], [7, 14], [14, 17]]) {
    const at = lines.indexOf(expected[from]);
    assert.deepEqual(lines.slice(at, at + to - from), expected.slice(from, to));
  }
  assert.ok(exp.names.includes('http_requests_total') && exp.skipped.length === 0, `names ${exp.names}, skipped ${exp.skipped}`);
  const lint = promtool(text);
  assert.deepEqual(lint.problems, [], `promtool on the text format (${clientName})`);
  assert.equal(lint.status, 0);

  prom.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const om = await prom.metrics();
  assert.ok(om.includes('# TYPE http_requests counter\n'), `OpenMetrics counter family without _total (${clientName}):\n${om}`);
  assert.ok(om.includes(`http_requests_total{code="200",route="/users"} ${THREADS * N * 0.9}\n`));
  assert.ok(om.trimEnd().endsWith('# EOF'));
  // promtool reads only the classic text format: it takes an OpenMetrics counter's
  // `x_total` samples for an untyped family without HELP, for the client's own counter
  // too. That is the one complaint it may have.
  const counters = [...om.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => `${m[1]}_total no help text`);
  const omLint = promtool(om);
  assert.ok(omLint.problems.includes('app_started_total no help text'), `promtool on OpenMetrics (${clientName}): ${omLint.problems}`);
  for (const p of omLint.problems) assert.ok(counters.includes(p), `promtool on OpenMetrics (${clientName}): ${p}`);
  exp.unregister();
  assert.equal((await prom.getMetricsAsJSON()).length, 1, 'unregister() leaves the application\'s metric alone');
  console.log(`prometheus (${RUNTIME}, ${clientName}): ${THREADS} workers' labelled metrics scraped exactly, with every thread's health; promtool clean (text and OpenMetrics)`);
} else {
  const registry = StatsRegistry.attach(workerData.handle, { backend: workerData.backend });
  // Stopped by the thread's exit, which hands its slot back with its stripe.
  registry.monitorThread({ name: 'worker' });
  const m = open(registry);
  m.busy.inc();
  const ok = m.requests.labels({ route: '/users', code: 200 });
  for (let i = 0; i < N; i++) {
    if (i % 10 === 9) m.requests.inc({ route: '/users', code: '500' });
    else ok.inc();
    m.latency.observe({ route: '/users' }, i % 2 === 0 ? 0.0625 : 0.5);
  }
  parentPort.postMessage('done');
}
