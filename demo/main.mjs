// `npm start`: the whole system on worker threads. See the README, "Demo".
//
// Main thread: owns the registry, flips the simulated downstream's health, listens for
// step completions (WorkerEventSubscriber), watches the shared breaker, serves /metrics
// and draws the view. Workers: publish domain events and run the steps (worker.mjs).
// Everything shown is read from the shared memory; the only messages are the
// completions (that is the subscriber's job), start/stop, and each worker's final report,
// which the summary checks the shared totals against.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry, WorkerEventSubscriber, createDomainEvent } from 'atomic-stats';
import { registerAtomicStats } from 'atomic-stats/prometheus';
import { Registry as PromRegistry } from 'prom-client';
import { USAGE, UsageError, parseDemoArgs } from './args.mjs';
import { BREAKER_NAME, CONTROL_BUS_NAME, EVENTS_METRIC, EVENT_TYPES, STEPS, STEP_DURATION_METRIC, SUBSCRIBER_NAME, openShared } from './config.mjs';
import { OUTAGE, createHealthWord, isOutage, startOutageSchedule } from './downstream.mjs';
import { RateMeter, changeLine, colors, frameLines, plainLine, summaryLines } from './view.mjs';

const WORKER_STOP_TIMEOUT_MS = 1500;
const DRAIN_TIMEOUT_MS = 1000;

let options;
try {
  options = parseDemoArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`error: ${err.message}\n\n${USAGE}`);
  process.exitCode = 2;
}
if (options?.help) process.stdout.write(USAGE);
else if (options !== undefined) await run(options);

async function run({ durationMs, workers: workerCount, port }) {
  const tty = process.stdout.isTTY === true;
  const c = colors(tty && !process.env.NO_COLOR);
  // Output piped into something that quit (`| head`) ends the run like Ctrl-C would.
  let outClosed = false;
  const write = (text) => outClosed || process.stdout.write(text);
  const out = (line) => write(`${line}\n`);
  process.stdout.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
    outClosed = true;
    stop('closed output');
  });

  // One owned stripe per thread (main + workers) keeps every thread on plain stores.
  let stripes = 16;
  while (stripes < workerCount + 1) stripes *= 2;
  const registry = StatsRegistry.create({ stripes });
  const { breaker, steps, byType, busStats, stepDuration } = openShared(registry);

  // The labelled series, read as a scrape reads them (registry.collect(): every thread's
  // series, from the shared memory), and the p50 / p99 of each step's durations, estimated
  // from the shared histogram's buckets (within one bucket's width).
  const readMetrics = () => {
    const labelled = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0]));
    const stepTimes = Object.fromEntries(Object.keys(STEPS).map((step) => [step, { count: 0, sum: 0 }]));
    for (const f of registry.collect()) {
      if (f.name === EVENTS_METRIC) for (const x of f.samples) labelled[x.labels.type] = Number(x.value);
      else if (f.name === STEP_DURATION_METRIC) for (const x of f.samples) stepTimes[x.labels.step] = { count: Number(x.value.count), sum: x.value.sum };
    }
    for (const [step, t] of Object.entries(stepTimes)) {
      t.p50 = stepDuration.quantile(0.5, { step });
      t.p99 = stepDuration.quantile(0.99, { step });
    }
    return { labelled, stepTimes, stepTypes: STEPS, metricNames: { events: EVENTS_METRIC, stepDuration: STEP_DURATION_METRIC } };
  };

  // Correlation is off: completions are fire-and-forget reports from the workers, with no
  // pending execution registered here, so every one would count as unmatched.
  const subscriber = new WorkerEventSubscriber({ registry, name: SUBSCRIBER_NAME, workerId: 'main', correlate: false });
  const reasons = { downstream_error: 0, circuit_open: 0 };
  subscriber.onResult((result) => {
    if (!result.success) reasons[result.metadata.custom.reason === 'circuit_open' ? 'circuit_open' : 'downstream_error']++;
  });

  // Breaker transitions and downstream outages become domain events on the main thread's
  // own bus; a pattern handler turns them into the "recent changes" log.
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const changes = [];
  const control = new InProcessEventBus({ registry, name: CONTROL_BUS_NAME });
  const runId = randomUUID();
  const announce = (event_name, payload) =>
    control.publish(createDomainEvent({ event_name, payload, metadata: { task_uuid: runId, namespace: 'demo', fired_by: 'main' } }));
  const logChange = (change) => {
    changes.push(change);
    if (!tty) out(changeLine(change));
  };
  control.subscribe('circuit.*', (e) =>
    logChange({ atMs: elapsed(), kind: 'breaker', ...e.payload, text: `breaker "${e.payload.breaker}": ${e.payload.previous} -> ${e.payload.state}` }),
  );
  control.subscribe('downstream.*', (e) =>
    logChange({ atMs: elapsed(), kind: 'downstream', text: e.event_name === 'downstream.outage' ? 'downstream: outage started' : 'downstream: recovered' }),
  );
  const stopWatching = breaker.onStateChange(({ state, previous }) =>
    announce(`circuit.${state === 'HalfOpen' ? 'half_open' : state.toLowerCase()}`, { breaker: BREAKER_NAME, state, previous }),
  );

  const prom = new PromRegistry();
  registerAtomicStats(registry, { register: prom, buses: [control] });
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    } else {
      prom.metrics().then(
        (body) => res.writeHead(200, { 'content-type': prom.contentType }).end(req.method === 'HEAD' ? undefined : body),
        (err) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err}\n`),
      );
    }
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  } catch (err) {
    process.stderr.write(`error: cannot serve metrics on 127.0.0.1:${port}: ${err.message}\n`);
    stopWatching();
    subscriber.close();
    process.exitCode = 1;
    return;
  }
  const metricsUrl = `http://127.0.0.1:${server.address().port}/metrics`;
  out(`metrics: ${metricsUrl}`);

  const health = createHealthWord();
  const workers = [];
  const reports = new Map();
  let failure;
  for (let i = 1; i <= workerCount; i++) {
    const workerId = `worker-${i}`;
    const completionPort = subscriber.createCompletionPort();
    const w = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: { handle: registry.handle, completionPort, health, workerId },
      transferList: [completionPort],
    });
    w.on('message', (m) => {
      if (m?.type === 'done') reports.set(workerId, m);
    });
    w.on('error', (err) => {
      failure ??= `${workerId} failed: ${err?.stack ?? err}`;
      stop('a worker error');
    });
    workers.push({ worker: w, exited: new Promise((resolve) => w.once('exit', resolve)) });
  }

  const stopSchedule = startOutageSchedule(health, (state) => announce(state === OUTAGE ? 'downstream.outage' : 'downstream.recovered', {}));

  const meter = new RateMeter();
  meter.update(0, { events: 0, completions: 0 });
  const sample = (stopping = false) => {
    const bus = busStats.snapshot();
    const sub = subscriber.getStatistics();
    const elapsedMs = elapsed();
    return {
      elapsedMs,
      durationMs,
      workers: workerCount,
      stopping,
      outage: isOutage(health),
      breakerName: BREAKER_NAME,
      bus,
      sub,
      steps: steps.snapshot(),
      breaker: breaker.metrics(),
      byType: byType.snapshot(),
      ...readMetrics(),
      reasons,
      changes,
      metricsUrl,
      rates: meter.update(elapsedMs, { events: bus.total_events_dispatched, completions: sub.completions_received }),
    };
  };

  // The TTY frame is redrawn in place: back up over the previous one, clear to the end.
  let drawn = 0;
  const draw = (stopping) => {
    const lines = frameLines(sample(stopping), c);
    write(`${drawn > 0 ? `\x1b[${drawn}A\r` : ''}\x1b[J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  if (tty) write('\x1b[?25l');
  const ticker = tty ? setInterval(() => draw(false), 250) : setInterval(() => out(plainLine(sample())), 1000);
  if (tty) draw(false);

  let stopReason;
  let stoppedAtMs;
  let markFinished;
  const finished = new Promise((resolve) => (markFinished = resolve));
  const durationTimer = setTimeout(() => stop('--duration'), durationMs);
  const onSignal = (signal) => {
    // A second Ctrl-C while stopping means "now": the cleanup is what is stuck.
    if (stopReason !== undefined) {
      if (tty) write('\x1b[?25h');
      process.exit(130);
    }
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  function stop(reason) {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stoppedAtMs = elapsed();
    clearTimeout(durationTimer);
    stopSchedule();
    clearInterval(ticker);
    if (tty) draw(true);
    for (const { worker } of workers) worker.postMessage({ type: 'stop' });
    shutdown().catch((err) => {
      process.stderr.write(`error: stopping failed: ${err?.stack ?? err}\n`);
      process.exitCode = 1;
      markFinished();
    });
  }

  async function shutdown() {
    // Each worker finishes the steps it has in flight, flushes its completions and exits
    // by itself; one that does not in time is terminated (and the checks will say so).
    await Promise.all(
      workers.map(async ({ worker, exited }) => {
        let timer;
        const late = new Promise((resolve) => (timer = setTimeout(resolve, WORKER_STOP_TIMEOUT_MS, 'late')));
        if ((await Promise.race([exited, late])) === 'late') {
          failure ??= 'a worker did not stop in time and was terminated';
          await worker.terminate();
        }
        clearTimeout(timer);
      }),
    );
    // The last completions may still be queued on the subscriber's ports; a timer keeps
    // the loop alive while they are handled (listening ports do not).
    const sent = [...reports.values()].reduce((a, r) => a + r.completionsSent, 0);
    const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
    while (subscriber.getStatistics().completions_received < sent && performance.now() < drainUntil) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    if (tty) draw(true);
    const final = sample(true);
    const workerReports = workers.map((_, i) => reports.get(`worker-${i + 1}`) ?? { workerId: `worker-${i + 1}`, published: NaN, completionsSent: NaN });
    const { lines, failed } = summaryLines({ ...final, elapsedMs: stoppedAtMs, reason: stopReason, workerReports });
    for (const line of lines) out(line);
    if (failure !== undefined) process.stderr.write(`error: ${failure}\n`);

    stopWatching();
    subscriber.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) write('\x1b[?25h');
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    if (failed > 0 || failure !== undefined) process.exitCode = 1;
    markFinished();
  }

  await finished;
}
