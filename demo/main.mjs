// `npm start`: the whole system on worker threads. See the README, "Demo".
//
// Main thread: owns the registry, flips the simulated downstream's health, listens for
// step completions (WorkerEventSubscriber), watches the shared breaker and every thread's
// health, and draws the view. /metrics is served from a thread of its own (serveMetrics),
// and the main thread scrapes it now and then to show that it answers throughout, while a
// worker is stalled too. Workers: publish domain events and run the steps (worker.mjs);
// worker-1 holds its event loop for a while. Everything shown is read from the shared
// memory; the only messages are the completions (that is the subscriber's job),
// start/stop, and each worker's final report, which the summary checks the shared totals
// against.
import { randomUUID } from 'node:crypto';
import { Worker, threadId } from 'node:worker_threads';
import { InProcessEventBus, StatsRegistry, WorkerEventSubscriber, createDomainEvent, serveMetrics } from 'atomic-stats';
import { USAGE, UsageError, parseDemoArgs } from './args.mjs';
import {
  BREAKER_NAME,
  CONTROL_BUS_NAME,
  EVENTS_METRIC,
  EVENT_TYPES,
  STALL_MS,
  STEPS,
  STEP_DURATION_METRIC,
  SUBSCRIBER_NAME,
  THREAD_INTERVAL_MS,
  openShared,
  stallPlan,
} from './config.mjs';
import { OUTAGE, createHealthWord, isOutage, startOutageSchedule } from './downstream.mjs';
import { RateMeter, changeLine, colors, frameLines, plainLine, summaryLines, threadsLine } from './view.mjs';

// Long enough for a worker to finish a stall it is in when told to stop (stallPlan: 2.5 s at most).
const WORKER_STOP_TIMEOUT_MS = 4000;
// How often the main thread scrapes its own /metrics, to show that it answers throughout.
const SELF_SCRAPE_MS = 500;
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

  // One owned stripe per thread (main, workers, the /metrics server) keeps every thread on
  // plain stores, and gives each monitored thread its slot of the thread table.
  let stripes = 16;
  while (stripes < workerCount + 2) stripes *= 2;
  const registry = StatsRegistry.create({ stripes });
  const { breaker, steps, byType, busStats, stepDuration } = openShared(registry);
  const mainMonitor = registry.monitorThread({ name: 'main', intervalMs: THREAD_INTERVAL_MS });

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

  // /metrics from a thread of its own: it answers whatever the other threads are doing.
  let server;
  try {
    server = await serveMetrics(registry, { port, host: '127.0.0.1' });
  } catch (err) {
    process.stderr.write(`error: ${err.message}\n`);
    stopWatching();
    subscriber.close();
    mainMonitor.stop();
    process.exitCode = 1;
    return;
  }
  const metricsUrl = server.url;
  out(`metrics: ${metricsUrl}`);

  // Every thread's health, from the shared thread table. A thread whose heartbeat is
  // STALL_MS past due is reported once per stall by the watcher (it runs on this thread's
  // event loop, so it sees the workers' stalls as they happen, this thread's own only
  // afterwards); the check below notices when the thread publishes again.
  const stalled = new Map(); // threadId -> slot, while stalled
  const stallsSeen = []; // { name, atMs, heartbeatAgeMs }
  // The main thread scrapes its /metrics now and then, and at once when a stall is seen:
  // answered throughout, with the stalled thread's heartbeat age in the scrape.
  const scrapes = { answered: 0, failed: 0, duringStall: 0, stalledHeartbeatS: 0 };
  const inFlight = new Set();
  const scrape = (stalledSlot) => {
    const p = (async () => {
      try {
        const res = await fetch(metricsUrl);
        const body = await res.text();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        scrapes.answered++;
        if (stalledSlot === undefined) return;
        scrapes.duringStall++;
        const age = Number(new RegExp(`^atomic_stats_thread_heartbeat_age_seconds\\{thread="${stalledSlot}"\\} (\\S+)$`, 'm').exec(body)?.[1]);
        if (age > scrapes.stalledHeartbeatS) scrapes.stalledHeartbeatS = age;
      } catch {
        scrapes.failed++;
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const watch = registry.watchThreads({ stallMs: STALL_MS }, (info) => {
    if (info.threadId === threadId) {
      // This thread's own: its watcher runs on its event loop, so it can only see the stall
      // once it is over (when the watcher's timer runs before the monitor's). Worth showing:
      // the main thread, handling every completion, is the demo's busiest. Not a stall in
      // progress, so no scrape for it.
      logChange({ atMs: elapsed(), kind: 'stall', text: `${info.name}: event loop was held for ${(info.heartbeatAgeMs / 1000).toFixed(1)} s (seen afterwards)` });
      return;
    }
    stalled.set(info.threadId, info.slot);
    stallsSeen.push({ name: info.name, atMs: elapsed(), heartbeatAgeMs: info.heartbeatAgeMs });
    logChange({ atMs: elapsed(), kind: 'stall', text: `${info.name}: event loop stalled, no heartbeat for ${(info.heartbeatAgeMs / 1000).toFixed(1)} s` });
    scrape(info.slot);
  });
  // A stalled thread is back once its heartbeat is fresh again (or it ended). Run before
  // each sample too, so the view never marks a thread stalled next to a fresh heartbeat.
  const noticeRecoveries = (threads) => {
    for (const t of threads) {
      if (!stalled.has(t.threadId) || (t.alive && t.heartbeatAgeMs >= 2 * t.intervalMs)) continue;
      stalled.delete(t.threadId);
      logChange({ atMs: elapsed(), kind: 'stall', text: t.alive ? `${t.name}: event loop running again` : `${t.name}: ended` });
    }
    return threads;
  };
  const recoveries = setInterval(() => noticeRecoveries(registry.threads()), 100);
  const selfScrape = setInterval(() => scrape(), SELF_SCRAPE_MS);

  const health = createHealthWord();
  const workers = [];
  const reports = new Map();
  let failure;
  const stall = stallPlan(durationMs);
  for (let i = 1; i <= workerCount; i++) {
    const workerId = `worker-${i}`;
    const completionPort = subscriber.createCompletionPort();
    const w = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: { handle: registry.handle, completionPort, health, workerId, stall: i === 1 ? stall : undefined },
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
      threads: noticeRecoveries(registry.threads()),
      stalledIds: new Set(stalled.keys()),
      stallsSeen,
      scrapes,
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
  const ticker = tty
    ? setInterval(() => draw(false), 250)
    : setInterval(() => {
        const s = sample();
        out(plainLine(s));
        out(threadsLine(s));
      }, 1000);
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
    clearInterval(selfScrape);
    clearInterval(recoveries);
    watch.stop();
    await Promise.allSettled([...inFlight]);
    const final = sample(true);
    const workerReports = workers.map((_, i) => reports.get(`worker-${i + 1}`) ?? { workerId: `worker-${i + 1}`, published: NaN, completionsSent: NaN, stalled: false });
    const { lines, failed } = summaryLines({ ...final, elapsedMs: stoppedAtMs, reason: stopReason, workerReports });
    for (const line of lines) out(line);
    if (failure !== undefined) process.stderr.write(`error: ${failure}\n`);

    stopWatching();
    subscriber.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) write('\x1b[?25h');
    mainMonitor.stop();
    await server.close();
    if (failed > 0 || failure !== undefined) process.exitCode = 1;
    markFinished();
  }

  await finished;
}
