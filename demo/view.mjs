// What the demo prints: the live frame (TTY), the once-a-second line (not a TTY), and the
// summary. Pure functions of a sample of the shared stats, so they are easy to test and
// the main thread keeps the I/O. Lines stay under 80 columns: the terminal's size is
// never asked for, and a line that wrapped would throw off the in-place redraw.

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const compact = (n) => (n < 100_000 ? fmt(n) : n < 100_000_000 ? `${(n / 1e3).toFixed(0)}k` : `${Math.round(n / 1e6)}M`);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pct = (r) => `${(r * 100).toFixed(1)}%`;

export function colors(enabled) {
  const c = (code) => (enabled ? (s) => `\x1b[${code}m${s}\x1b[0m` : (s) => s);
  return { bold: c('1'), dim: c('2'), red: c('31'), green: c('32'), yellow: c('33') };
}

const SHORT = { order_placed: 'placed', payment_requested: 'payment', shipment_requested: 'shipment', order_cancelled: 'cancelled' };
const STEP_SHORT = { charge_payment: 'payment', book_shipment: 'shipment' };
const short = (name) => SHORT[name.replace('.', '_')] ?? name;
// Seconds (a quantile estimate) as milliseconds; NaN (no observations yet) as a dash.
const ms = (seconds) => (Number.isNaN(seconds) ? '–' : `${(seconds * 1000).toFixed(1)} ms`);
/** "payment p50 2.3 ms p99 4.9 ms · shipment …": each step's quantiles from the shared histogram. */
const stepQuantiles = (stepTimes) =>
  Object.entries(stepTimes).map(([k, t]) => `${STEP_SHORT[k] ?? k} p50 ${ms(t.p50)} p99 ${ms(t.p99)}`).join(' · ');

const paint = (c, state) => (state === 'Closed' ? c.green : state === 'Open' ? c.red : c.yellow)(state);

/** Events per second over the last second or so of samples. */
export class RateMeter {
  history = [];
  update(t, values) {
    this.history.push({ t, values });
    while (this.history.length > 2 && t - this.history[1].t >= 1000) this.history.shift();
    const first = this.history[0];
    const dt = (t - first.t) / 1000;
    const rates = {};
    for (const k of Object.keys(values)) rates[k] = dt > 0 ? (values[k] - first.values[k]) / dt : 0;
    return rates;
  }
}

// Thread health (registry.threads()): heap used, the share of the last interval the event
// loop was busy, and how old the last heartbeat is. A stalled thread's heartbeat keeps
// ageing while the others stay under their interval.
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
const loop = (ratio) => `${(ratio * 100).toFixed(0)}%`;
const beat = (ms) => `${(ms / 1000).toFixed(1)} s`;
// Rows of the TTY frame's thread table at most: a stalled thread is always among them.
const THREAD_ROWS = 6;

/** The threads shown live: the alive ones, stalled first, in slot order. */
function liveThreads(s) {
  const alive = (s.threads ?? []).filter((t) => t.alive);
  const stalled = s.stalledIds ?? new Set();
  return [...alive.filter((t) => stalled.has(t.threadId)), ...alive.filter((t) => !stalled.has(t.threadId))];
}

function bar(fraction, width) {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'·'.repeat(width - n)}]`;
}

/** The TTY frame, as lines. */
export function frameLines(s, c) {
  const { bus, sub, steps, breaker, labelled } = s;
  const left = Math.max(0, s.durationMs - s.elapsedMs);
  const lines = [
    c.bold(`atomic-stats demo · ${s.workers} worker${s.workers === 1 ? '' : 's'} + main thread · one shared memory`),
    `${bar(s.elapsedMs / s.durationMs, 24)} ${secs(Math.min(s.elapsedMs, s.durationMs))} / ${secs(s.durationMs)}` +
      (s.stopping ? c.yellow('  stopping…') : `  ${secs(left)} left`),
    '',
    // Padded by the visible text: the colour codes have no width.
    `downstream   ${s.outage ? c.red('OUTAGE ') : c.green('healthy')}                    breaker "${s.breakerName}" ${paint(c, breaker.current_state)}`,
    `events       ${compact(bus.total_events_dispatched).padStart(9)} published  ${compact(s.rates.events).padStart(7)}/s` +
      `   handler errors ${compact(bus.rust_handler_errors)}`,
    // From the labelled counter demo_events_total{type}.
    `  by type    ${Object.entries(labelled).map(([k, v]) => `${short(k)} ${compact(v)}`).join(' · ')}`,
    `completions  ${compact(sub.completions_received).padStart(9)} received   ${compact(s.rates.completions).padStart(7)}/s` +
      `   ok ${compact(sub.successful_completions)} · failed ${compact(sub.failed_completions)}`,
    `  failed by  downstream error ${compact(s.reasons.downstream_error)} · circuit open ${compact(s.reasons.circuit_open)}`,
    `steps        ${compact(steps.total_executed).padStart(9)} executed   avg ${steps.average_execution_time_ms.toFixed(2)} ms`,
    // From the shared histogram demo_step_duration_seconds{step}, over every worker.
    `  step time  ${stepQuantiles(s.stepTimes)}`,
    `breaker      calls ${compact(breaker.total_calls)} · failed ${compact(breaker.failure_count)} · rejected ${compact(breaker.rejected_calls)} · opened ${breaker.times_opened}×`,
    '',
  ];
  // Every monitored thread, read from the shared thread table: no thread is asked.
  const threads = liveThreads(s);
  lines.push(c.dim('threads       heap used   loop busy   heartbeat'));
  for (const t of threads.slice(0, THREAD_ROWS)) {
    const stalled = s.stalledIds?.has(t.threadId) === true;
    lines.push(
      `  ${t.name.slice(0, 10).padEnd(10)} ${mb(t.heapUsedBytes).padStart(10)} ${loop(t.eventLoopUtilization).padStart(11)} ` +
        `${beat(t.heartbeatAgeMs).padStart(11)}${stalled ? c.red('  STALLED') : ''}`,
    );
  }
  if (threads.length > THREAD_ROWS) lines.push(c.dim(`  … and ${threads.length - THREAD_ROWS} more`));
  lines.push('', c.dim('recent changes'));
  const recent = s.changes.slice(-5);
  for (const ch of recent) lines.push(`  ${secs(ch.atMs).padStart(7)}  ${ch.text}`);
  for (let i = recent.length; i < 5; i++) lines.push('');
  const scrapes = s.scrapes === undefined ? '' : ` (${s.scrapes.answered} scrapes answered)`;
  lines.push(c.dim(`metrics: ${s.metricsUrl}${scrapes}   Ctrl-C stops`));
  return lines;
}

/** The once-a-second line when stdout is not a terminal. */
export function plainLine(s) {
  const { bus, sub, breaker } = s;
  return (
    `[${secs(s.elapsedMs).padStart(7)}] events ${bus.total_events_dispatched} (${fmt(s.rates.events)}/s)` +
    ` · completions ${sub.completions_received} (ok ${sub.successful_completions}, failed ${sub.failed_completions})` +
    ` · breaker ${breaker.current_state} (opened ${breaker.times_opened}, rejected ${breaker.rejected_calls})` +
    ` · step time ${stepQuantiles(s.stepTimes)}` +
    ` · downstream ${s.outage ? 'OUTAGE' : 'healthy'}`
  );
}

/** The once-a-second thread health line when stdout is not a terminal. */
export function threadsLine(s) {
  const stalled = s.stalledIds ?? new Set();
  const rows = liveThreads(s).map(
    (t) => `${t.name} heap ${mb(t.heapUsedBytes)} loop ${loop(t.eventLoopUtilization)} heartbeat ${beat(t.heartbeatAgeMs)}${stalled.has(t.threadId) ? ' STALLED' : ''}`,
  );
  return `[${secs(s.elapsedMs).padStart(7)}] threads ${rows.join(' · ')}`;
}

export const changeLine = (ch) => `[${secs(ch.atMs).padStart(7)}] ${ch.text}`;

/**
 * The invariants the shared counters must satisfy once nothing is in flight. Each is
 * [description, left, right]; the summary prints them as "ok"/"FAIL" lines.
 */
export function checks(f) {
  const { bus, sub, steps, breaker, byType, reasons, workerReports, labelled, stepTimes, stepTypes, metricNames, threads } = f;
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const field = (eventName) => byType[eventName.replace('.', '_')];
  const publishedByWorkers = sum(workerReports.map((r) => r.published));
  const sentByWorkers = sum(workerReports.map((r) => r.completionsSent));
  const stepEvents = byType.payment_requested + byType.shipment_requested;
  return [
    ['events published == sum over workers', bus.total_events_dispatched, publishedByWorkers],
    ['events published == sum of events by type', bus.total_events_dispatched, sum(Object.values(byType))],
    ['handler dispatches == events published', bus.rust_handler_dispatches, bus.total_events_dispatched],
    ['events published == channel dispatches + drops', bus.total_events_dispatched, bus.ffi_channel_dispatches + bus.ffi_channel_drops],
    ['completions received == sent by workers', sub.completions_received, sentByWorkers],
    ['completions received == successful + failed', sub.completions_received, sub.successful_completions + sub.failed_completions],
    ['completions received == step events published', sub.completions_received, stepEvents],
    ['steps executed == completions received', steps.total_executed, sub.completions_received],
    ['steps succeeded == successful completions', steps.total_succeeded, sub.successful_completions],
    ['breaker calls + rejected == completions received', breaker.total_calls + breaker.rejected_calls, sub.completions_received],
    ['breaker successes == successful completions', breaker.success_count, sub.successful_completions],
    ['breaker failures == failed for downstream error', breaker.failure_count, reasons.downstream_error],
    ['breaker rejected == failed for circuit open', breaker.rejected_calls, reasons.circuit_open],
    ['handler errors == failed completions', bus.rust_handler_errors, sub.failed_completions],
    ['conversion errors == 0', sub.conversion_errors, 0],
    // The labelled metrics against the counter set and the step stats, which the workers
    // update at the same points: each labelled series holds exactly its share.
    ...Object.entries(labelled).map(([type, v]) => [`${metricNames.events}{type="${type}"} == events by type (set)`, v, field(type)]),
    ...Object.entries(stepTypes).map(([step, type]) => [
      `${metricNames.stepDuration}_count{step="${step}"} == ${type} events`,
      stepTimes[step].count,
      field(type),
    ]),
    [`${metricNames.stepDuration}_count summed == steps executed`, sum(Object.values(stepTimes).map((t) => t.count)), steps.total_executed],
    // Thread health, when the sample has it: every thread monitored in a slot of its own,
    // only the main thread alive once the workers have ended, each worker's stall seen by
    // watchThreads, and /metrics answering throughout, stalls included.
    ...(threads === undefined ? [] : threadChecks(f)),
  ];
}

function threadChecks({ threads, stallsSeen, scrapes, workerReports, workers }) {
  const stalledWorkers = workerReports.filter((r) => r.stalled).map((r) => r.workerId);
  const seen = new Set(stallsSeen.map((x) => x.name));
  return [
    ['thread slots used == workers + main', threads.length, workers + 1],
    ['threads alive after the workers ended == 1 (main)', threads.filter((t) => t.alive).length, 1],
    ['workers that stalled, seen by watchThreads == workers that stalled', stalledWorkers.filter((w) => seen.has(w)).length, stalledWorkers.length],
    ['/metrics scrapes answered at a stall == stalls seen', scrapes.duringStall, stallsSeen.length],
    ['/metrics scrapes not answered == 0', scrapes.failed, 0],
  ];
}

// "Closed -> Open -> HalfOpen -> ...": the states the main thread's listener heard, which
// may skip a state that lasted a moment (times_opened counts every opening).
function statePath(changes) {
  const seen = changes.filter((ch) => ch.kind === 'breaker');
  if (seen.length === 0) return 'none besides Closed';
  const states = [seen[0].previous, ...seen.map((ch) => ch.state)];
  const shown = states.length > 13 ? [...states.slice(0, 6), '…', ...states.slice(-6)] : states;
  return `${shown.join(' -> ')} (${seen.length} changes)`;
}

function threadSummary({ threads, stallsSeen, scrapes }) {
  const stalls = stallsSeen.map((x) => `${x.name} at ${secs(x.atMs)} (no heartbeat for ${beat(x.heartbeatAgeMs)})`);
  return [
    `  threads monitored      ${threads.map((t) => `${t.name} (slot ${t.slot}${t.alive ? '' : ', ended'})`).join(', ')}`,
    `  stalls seen            ${stalls.length === 0 ? 'none' : stalls.join(', ')}`,
    `  /metrics               ${scrapes.answered} scrapes answered by its own thread, ${scrapes.duringStall} at a stall` +
      (scrapes.duringStall === 0 ? '' : ` (the stalled thread's heartbeat age in it: up to ${scrapes.stalledHeartbeatS.toFixed(1)} s)`),
  ];
}

/** The summary, as lines; `failed` is the number of checks that did not hold. */
export function summaryLines(f) {
  const { bus, sub, steps, breaker, byType, reasons, workerReports, labelled, stepTimes, metricNames } = f;
  const results = checks(f);
  const failed = results.filter(([, a, b]) => a !== b).length;
  const lines = [
    '',
    `summary: ran ${secs(f.elapsedMs)} with ${f.workers} worker${f.workers === 1 ? '' : 's'}, stopped by ${f.reason}`,
    `  events published       ${bus.total_events_dispatched}  (${workerReports.map((r) => `${r.workerId} ${r.published}`).join(' + ')})`,
    `    by type              ${Object.entries(byType).map(([k, v]) => `${k.replace('_', '.')} ${v}`).join(', ')}`,
    `    handlers             ${bus.rust_handler_dispatches} dispatches, ${bus.rust_handler_errors} errors; broadcast: ${bus.ffi_channel_dispatches} delivered, ${bus.ffi_channel_drops} without receivers`,
    `  completions received   ${sub.completions_received}  (successful ${sub.successful_completions}, failed ${sub.failed_completions}: downstream error ${reasons.downstream_error}, circuit open ${reasons.circuit_open})`,
    `  steps executed         ${steps.total_executed}  (succeeded ${steps.total_succeeded}, failed ${steps.total_failed}, average ${steps.average_execution_time_ms.toFixed(2)} ms)`,
    `  breaker "${f.breakerName}"   ${breaker.current_state}  (calls ${breaker.total_calls}: ok ${breaker.success_count}, failed ${breaker.failure_count}; ` +
      `rejected ${breaker.rejected_calls}; opened ${breaker.times_opened} times; failure rate ${pct(breaker.failure_rate)}; ` +
      `average call ${(breaker.average_duration_nanos / 1e6).toFixed(2)} ms)`,
    `  breaker states seen    ${statePath(f.changes)}`,
    `  ${metricNames.events}{type}  ${Object.entries(labelled).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  ${metricNames.stepDuration}{step}  ` +
      Object.entries(stepTimes)
        .map(([k, t]) => `${k} ${t.count} steps (p50 ${ms(t.p50)}, p99 ${ms(t.p99)}, mean ${t.count > 0 ? ms(t.sum / t.count) : '–'})`)
        .join('; '),
    ...(f.threads === undefined ? [] : threadSummary(f)),
    '  checks',
    ...results.map(([what, a, b]) => `    ${a === b ? 'ok  ' : 'FAIL'}  ${what} (${a} == ${b})`),
    failed === 0 ? `  all ${results.length} checks passed` : `  ${failed} of ${results.length} checks FAILED`,
  ];
  return { lines, failed };
}
