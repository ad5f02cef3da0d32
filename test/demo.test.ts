import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript (view.mjs: pure functions, no I/O).
import { checks, colors, frameLines, plainLine, summaryLines, threadsLine } from '../demo/view.mjs';
import { startProcess } from './helpers/processes.js';

// The `npm start` demo, run as a user would run it with its output piped (not a TTY):
// plain lines, a /metrics server while it runs, a summary whose checks compare the shared
// totals with what the workers reported. It imports the built package (`dist/`), which
// `npm test` builds first.

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `re`; rejects if it exits first or after 60 s. */
  line: (re: RegExp) => Promise<string>;
  /** Resolves with its exit code; rejects after 60 s (it is killed after the test anyway). */
  exit: () => Promise<number | null>;
}

function startDemo(args: string[]): Run {
  // Killed (SIGKILL) after the test if still running, whatever happened (test/setup/children.ts).
  const p = startProcess(process.execPath, ['demo/main.mjs', ...args]);
  return {
    child: p.child,
    stdout: () => p.stdout(),
    stderr: () => p.stderr(),
    line: (re) => p.waitFor(() => p.stdout().split('\n').find((l) => re.test(l)), 60_000, `a line matching ${re}`),
    exit: async () => (await p.exited(60_000, 'the demo to end')).code,
  };
}

/** A registry.threads() entry with the figures the demo shows; the rest are zero. */
function thread(t: { slot: number; threadId: number; name: string; heapUsedBytes: number; eventLoopUtilization: number; heartbeatAgeMs: number; alive?: boolean }) {
  return { alive: true, intervalMs: 200, monitoredForMs: 2000, heapTotalBytes: 2 * t.heapUsedBytes, ...t };
}

// The summary checks that compare the labelled metrics with the counter set and step stats.
const LABELLED_CHECKS = [
  ...['order.placed', 'payment.requested', 'shipment.requested', 'order.cancelled'].map((t) => `demo_events_total{type="${t}"} == events by type (set)`),
  'demo_step_duration_seconds_count{step="charge_payment"} == payment.requested events',
  'demo_step_duration_seconds_count{step="book_shipment"} == shipment.requested events',
  'demo_step_duration_seconds_count summed == steps executed',
];

/** The summary's check lines: every one must hold, and its two numbers must be equal. */
function expectChecksHold(stdout: string): void {
  const checks = stdout.split('\n').filter((l) => /^ {4}(ok|FAIL) /.test(l));
  expect(checks.length).toBeGreaterThanOrEqual(15 + LABELLED_CHECKS.length);
  const described = checks.map((l) => /^ {4}(?:ok|FAIL) +(.+) \(\S+ == \S+\)$/.exec(l)?.[1]);
  for (const what of LABELLED_CHECKS) expect(described, what).toContain(what);
  for (const l of checks) {
    const m = /^ {4}(ok|FAIL) +(.+) \((\S+) == (\S+)\)$/.exec(l);
    expect(m, l).not.toBeNull();
    expect(m![1], l).toBe('ok');
    expect(Number(m![3]), l).toBe(Number(m![4]));
  }
  expect(stdout).toMatch(new RegExp(`^  all ${checks.length} checks passed$`, 'm'));
}

describe('demo (npm start)', () => {
  it('serves /metrics while it runs, then exits 0 with a summary whose totals add up', async () => {
    const run = startDemo(['--duration', '3', '--workers', '2', '--port', '0']);
    const address = await run.line(/^metrics: /);
    const url = /^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/.exec(address)?.[1];
    expect(url, address).toBeDefined();

    // Wait for a progress line, so the workers have published something.
    await run.line(/^\[ *\d+\.\d s\] events /);
    const res = await fetch(url!);
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const series of [
      'atomic_stats_event_bus_events_published_total{name="domain-events"}',
      'atomic_stats_event_bus_handler_dispatches_total{name="domain-events"}',
      'atomic_stats_worker_subscriber_completions_received_total{name="step-completions"}',
      'atomic_stats_worker_subscriber_completions_total{name="step-completions",outcome="failure"}',
      'atomic_stats_step_executions_total{name="downstream-steps",outcome="success"}',
      'atomic_stats_set_events_by_type_total{set="events_by_type",field="payment_requested"}',
      'atomic_stats_circuit_breaker_calls_total{name="downstream",outcome="success"}',
      'atomic_stats_circuit_breaker_state{name="downstream",state="open"}',
    ]) {
      expect(text).toContain(series);
    }
    // Prometheus 3 refuses a scrape without a Content-Type: the demo sends prom-client's.
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const dispatched = /^atomic_stats_event_bus_events_published_total\{name="domain-events"\} (\d+)$/m.exec(text);
    expect(Number(dispatched?.[1])).toBeGreaterThan(0);

    // The labelled counter: one series per event type the workers published, under the
    // name the demo gave it (no prefix), with its values from every worker.
    expect(text).toContain('# TYPE demo_events_total counter');
    const byType = new Map([...text.matchAll(/^demo_events_total\{type="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
    for (const type of ['order.placed', 'payment.requested', 'shipment.requested']) expect(byType.get(type), type).toBeGreaterThan(0);
    // The histogram: per step, cumulative buckets up to +Inf, which equals _count; a _sum.
    expect(text).toContain('# TYPE demo_step_duration_seconds histogram');
    for (const step of ['charge_payment', 'book_shipment']) {
      const buckets = [...text.matchAll(new RegExp(`^demo_step_duration_seconds_bucket\\{le="([^"]+)",step="${step}"\\} (\\d+)$`, 'gm'))].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
      expect(buckets.map((b) => b.le)).toEqual(['0.0005', '0.001', '0.002', '0.003', '0.004', '0.005', '0.0075', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf']);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.n).toBeGreaterThanOrEqual(buckets[i - 1]!.n);
      const count = Number(new RegExp(`^demo_step_duration_seconds_count\\{step="${step}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      expect(count, step).toBeGreaterThan(0);
      expect(buckets.at(-1)!.n).toBe(count);
      const sum = Number(new RegExp(`^demo_step_duration_seconds_sum\\{step="${step}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(sum, step).toBeGreaterThan(0);
    }
    // Every demo thread monitors itself: its health is in the scrape, by slot and name,
    // under prom-client's names with a `thread` label.
    const info = [...text.matchAll(/^atomic_stats_thread_info\{thread="(\d+)",thread_id="\d+",name="([^"]+)"\} 1$/gm)].map((m) => ({ slot: m[1]!, name: m[2]! }));
    expect(info.map((i) => i.name).sort()).toEqual(['main', 'worker-1', 'worker-2']);
    for (const { slot } of info) {
      expect(text).toMatch(new RegExp(`^nodejs_heap_size_used_bytes\\{thread="${slot}"\\} [1-9]\\d*$`, 'm'));
      expect(text).toMatch(new RegExp(`^atomic_stats_thread_heartbeat_age_seconds\\{thread="${slot}"\\} \\S+$`, 'm'));
      expect(text).toMatch(new RegExp(`^atomic_stats_thread_eventloop_utilization_ratio\\{thread="${slot}"\\} \\S+$`, 'm'));
    }
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);
    expect((await fetch(url!.replace(/\/metrics$/, '/other'))).status).toBe(404);

    expect(await run.exit()).toBe(0);
    const out = run.stdout();
    expect(out).toMatch(/^summary: ran [\d.]+ s with 2 workers, stopped by --duration$/m);
    const published = /^ {2}events published +(\d+) +\(worker-1 (\d+) \+ worker-2 (\d+)\)$/m.exec(out);
    expect(published, out).not.toBeNull();
    expect(Number(published![1])).toBe(Number(published![2]) + Number(published![3]));
    const completions = /^ {2}completions received +(\d+) +\(successful (\d+), failed (\d+):/m.exec(out);
    expect(completions, out).not.toBeNull();
    expect(Number(completions![1])).toBe(Number(completions![2]) + Number(completions![3]));
    // The live (plain) lines and the summary show each step's p50 and p99 from the histogram.
    expect(out).toMatch(/^\[ *[\d.]+ s\] events .* · step time payment p50 [\d.]+ ms p99 [\d.]+ ms · shipment p50 [\d.]+ ms p99 [\d.]+ ms · /m);
    expect(out).toMatch(/^ {2}demo_events_total\{type\} {2}order\.placed \d+, payment\.requested \d+, shipment\.requested \d+, order\.cancelled \d+$/m);
    const steps = /^ {2}demo_step_duration_seconds\{step\} {2}charge_payment (\d+) steps \(p50 ([\d.]+) ms, p99 ([\d.]+) ms, mean [\d.]+ ms\); book_shipment (\d+) steps/m.exec(out);
    expect(steps, out).not.toBeNull();
    expect(Number(steps![3])).toBeGreaterThanOrEqual(Number(steps![2]));
    // Thread health, live and in the summary: worker-1 holds its event loop for a while,
    // the main thread's watchThreads sees it once, and /metrics answers during the stall.
    expect(out).toMatch(/^\[ *[\d.]+ s\] threads (?=.*\bmain heap [\d.]+ MB loop \d+% heartbeat [\d.]+ s\b)(?=.*\bworker-1 heap )(?=.*\bworker-2 heap )/m);
    // (Exactly once per stall is watchThreads' own test; here a thread starved of CPU by a
    // loaded machine could make a second, real stall.)
    expect(out).toMatch(/^\[ *[\d.]+ s\] worker-1: event loop stalled, no heartbeat for [\d.]+ s$/m);
    expect(out).toMatch(/^\[ *[\d.]+ s\] worker-1: event loop running again$/m);
    expect(out).toMatch(/^ {2}stalls seen {12}.*\bworker-1 at [\d.]+ s \(no heartbeat for [\d.]+ s\)/m);
    expect(out).toMatch(/^ {2}threads monitored {6}(?=.*main \(slot \d+\))(?=.*worker-1 \(slot \d+, ended\))(?=.*worker-2 \(slot \d+, ended\))/m);
    expect(out).toMatch(/^ {4}ok {4}workers that stalled, seen by watchThreads == workers that stalled \(1 == 1\)$/m);
    expect(out).toMatch(/^ {4}ok {4}\/metrics scrapes answered at a stall == stalls seen \([1-9]\d* == [1-9]\d*\)$/m);
    expectChecksHold(out);
    expect(run.stderr()).toBe('');
    // The server lives only as long as the demo.
    await expect(fetch(url!)).rejects.toThrow();
  }, 120_000);

  it('stops cleanly on SIGINT: summary, exit 0', async () => {
    const run = startDemo(['--duration', '60', '--workers', '2']);
    await run.line(/^\[ *\d+\.\d s\] events /);
    run.child.kill('SIGINT');
    expect(await run.exit()).toBe(0);
    expect(run.stdout()).toMatch(/^summary: ran [\d.]+ s with 2 workers, stopped by SIGINT$/m);
    expectChecksHold(run.stdout());
  }, 120_000);

  it('the live frame shows the labelled counts and each step\'s p50 / p99, in lines under 80 columns', () => {
    const labelled = { 'order.placed': 1200, 'payment.requested': 1100, 'shipment.requested': 900, 'order.cancelled': 40 };
    const s = {
      elapsedMs: 2500,
      durationMs: 10000,
      workers: 2,
      stopping: false,
      outage: false,
      breakerName: 'downstream',
      bus: { total_events_dispatched: 3240, rust_handler_errors: 3, rust_handler_dispatches: 3240, ffi_channel_dispatches: 0, ffi_channel_drops: 3240 },
      sub: { completions_received: 2000, successful_completions: 1997, failed_completions: 3, conversion_errors: 0 },
      steps: { total_executed: 2000, total_succeeded: 1997, total_failed: 3, average_execution_time_ms: 2.5 },
      breaker: { current_state: 'Closed', total_calls: 2000, failure_count: 3, rejected_calls: 0, times_opened: 0, success_count: 1997, failure_rate: 0.0015, average_duration_nanos: 2.5e6 },
      byType: { order_placed: 1200, payment_requested: 1100, shipment_requested: 900, order_cancelled: 40 },
      labelled,
      // A hung call: 250 ms is the widest value a quantile can show in this layout.
      stepTimes: { charge_payment: { count: 1100, sum: 2.9, p50: 0.0023, p99: 0.25 }, book_shipment: { count: 900, sum: 2.1, p50: NaN, p99: NaN } },
      stepTypes: { charge_payment: 'payment.requested', book_shipment: 'shipment.requested' },
      metricNames: { events: 'demo_events_total', stepDuration: 'demo_step_duration_seconds' },
      reasons: { downstream_error: 3, circuit_open: 0 },
      changes: [],
      metricsUrl: 'http://127.0.0.1:65535/metrics',
      rates: { events: 1296, completions: 800 },
      // registry.threads(): the main thread, a worker stalled for 1.9 s, one that ended.
      threads: [
        thread({ slot: 0, threadId: 0, name: 'main', heapUsedBytes: 9.5 * 2 ** 20, eventLoopUtilization: 0.123, heartbeatAgeMs: 120 }),
        thread({ slot: 2, threadId: 1, name: 'worker-1', heapUsedBytes: 12.25 * 2 ** 20, eventLoopUtilization: 1, heartbeatAgeMs: 1900 }),
        thread({ slot: 3, threadId: 2, name: 'worker-2', heapUsedBytes: 7 * 2 ** 20, eventLoopUtilization: 0.5, heartbeatAgeMs: 50, alive: false }),
      ],
      stalledIds: new Set([1]),
      stallsSeen: [{ name: 'worker-1', atMs: 1500, heartbeatAgeMs: 700 }],
      scrapes: { answered: 7, failed: 0, duringStall: 1, stalledHeartbeatS: 0.7 },
    };
    const lines: string[] = frameLines(s, colors(false));
    for (const l of lines) expect(l.length, l).toBeLessThan(80);
    // Live threads only, the stalled one first and marked.
    const rows = lines.slice(lines.indexOf('threads       heap used   loop busy   heartbeat') + 1, lines.indexOf('recent changes') - 1);
    expect(rows).toEqual(['  worker-1      12.3 MB        100%       1.9 s  STALLED', '  main           9.5 MB         12%       0.1 s']);
    expect(lines.at(-1)).toBe('metrics: http://127.0.0.1:65535/metrics (7 scrapes answered)   Ctrl-C stops');
    expect(threadsLine(s)).toBe('[  2.5 s] threads worker-1 heap 12.3 MB loop 100% heartbeat 1.9 s STALLED · main heap 9.5 MB loop 12% heartbeat 0.1 s');
    expect(lines).toContain('  by type    placed 1,200 · payment 1,100 · shipment 900 · cancelled 40');
    expect(lines).toContain('  step time  payment p50 2.3 ms p99 250.0 ms · shipment p50 – p99 –');
    expect(plainLine(s)).toContain(' · step time payment p50 2.3 ms p99 250.0 ms · shipment p50 – p99 – · ');
    // The checks compare each labelled series with its counter-set field and step stats.
    const results: [string, number, number][] = checks({ ...s, workerReports: [{ published: 3240, completionsSent: 2000 }] });
    expect(results.filter(([what]) => what.startsWith('demo_')).map(([what, a, b]) => [what, a, b])).toEqual([
      ['demo_events_total{type="order.placed"} == events by type (set)', 1200, 1200],
      ['demo_events_total{type="payment.requested"} == events by type (set)', 1100, 1100],
      ['demo_events_total{type="shipment.requested"} == events by type (set)', 900, 900],
      ['demo_events_total{type="order.cancelled"} == events by type (set)', 40, 40],
      ['demo_step_duration_seconds_count{step="charge_payment"} == payment.requested events', 1100, 1100],
      ['demo_step_duration_seconds_count{step="book_shipment"} == shipment.requested events', 900, 900],
      ['demo_step_duration_seconds_count summed == steps executed', 2000, 2000],
    ]);
    // A labelled series that lost counts fails its check.
    const reports = [{ workerId: 'worker-1', published: 3240, completionsSent: 2000, stalled: true }];
    // As at the end of a run: the workers have ended.
    const ended = s.threads.map((t) => ({ ...t, alive: t.name === 'main' }));
    const { failed } = summaryLines({ ...s, workers: 2, threads: ended, labelled: { ...labelled, 'order.placed': 1199 }, workerReports: reports, elapsedMs: 2500, reason: 'test' });
    expect(failed).toBe(1);
    // The thread checks: a worker's stall that watchThreads missed, a scrape that failed,
    // a worker still alive at the end, each fails its own check.
    const threadResults = (f: object): [string, number, number][] =>
      checks({ ...s, workers: 2, workerReports: reports, ...f }).filter(([what]: [string]) => /thread|stall|metrics/.test(what));
    expect(threadResults({}).map(([what, a, b]) => [what, a, b])).toEqual([
      ['thread slots used == workers + main', 3, 3],
      ['threads alive after the workers ended == 1 (main)', 2, 1],
      ['workers that stalled, seen by watchThreads == workers that stalled', 1, 1],
      ['/metrics scrapes answered at a stall == stalls seen', 1, 1],
      ['/metrics scrapes not answered == 0', 0, 0],
    ]);
    expect(summaryLines({ ...s, workers: 2, threads: ended, workerReports: reports, elapsedMs: 2500, reason: 'test' }).failed).toBe(0);
    for (const broken of [{ stallsSeen: [] }, { scrapes: { ...s.scrapes, failed: 1 } }, { threads: s.threads }]) {
      expect(summaryLines({ ...s, workers: 2, threads: ended, ...broken, workerReports: reports, elapsedMs: 2500, reason: 'test' }).failed, JSON.stringify(broken)).toBeGreaterThan(0);
    }
    const summary = summaryLines({ ...s, workers: 2, threads: ended, workerReports: reports, elapsedMs: 2500, reason: 'test' }).lines;
    expect(summary).toContain('  threads monitored      main (slot 0), worker-1 (slot 2, ended), worker-2 (slot 3, ended)');
    expect(summary).toContain('  stalls seen            worker-1 at 1.5 s (no heartbeat for 0.7 s)');
    expect(summary).toContain("  /metrics               7 scrapes answered by its own thread, 1 at a stall (the stalled thread's heartbeat age in it: up to 0.7 s)");
  });

  it('rejects a bad flag with the usage on stderr and exit code 2; --help prints it', async () => {
    for (const args of [['--bogus'], ['--duration', 'soon'], ['--workers', '0']]) {
      const run = startDemo(args);
      expect(await run.exit(), args.join(' ')).toBe(2);
      expect(run.stderr()).toMatch(/^error: /);
      expect(run.stderr()).toContain('usage:');
      expect(run.stdout()).toBe('');
    }
    const help = startDemo(['--help']);
    expect(await help.exit()).toBe(0);
    expect(help.stdout()).toContain('--duration SECONDS');
  }, 120_000);
});
