import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The `npm start` demo, run as a user would run it with its output piped (not a TTY):
// plain lines, a /metrics server while it runs, a summary whose checks compare the shared
// totals with what the workers reported. It imports the built package (`dist/`), which
// `npm test` builds first.

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `re`. */
  line: (re: RegExp) => Promise<string>;
  exit: Promise<number | null>;
}

function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, ['demo/main.mjs', ...args], { stdio: 'pipe' });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const hit = out.split('\n').find((l) => w.re.test(l));
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    line: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void exit.then(() => reject(new Error(`exited before printing ${re}:\n${out}\n${err}`)));
      }),
    exit,
  };
}

/** The summary's check lines: every one must hold, and its two numbers must be equal. */
function expectChecksHold(stdout: string): void {
  const checks = stdout.split('\n').filter((l) => /^ {4}(ok|FAIL) /.test(l));
  expect(checks.length).toBeGreaterThanOrEqual(15);
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
    expect((await fetch(url!.replace(/\/metrics$/, '/other'))).status).toBe(404);

    expect(await run.exit).toBe(0);
    const out = run.stdout();
    expect(out).toMatch(/^summary: ran [\d.]+ s with 2 workers, stopped by --duration$/m);
    const published = /^ {2}events published +(\d+) +\(worker-1 (\d+) \+ worker-2 (\d+)\)$/m.exec(out);
    expect(published, out).not.toBeNull();
    expect(Number(published![1])).toBe(Number(published![2]) + Number(published![3]));
    const completions = /^ {2}completions received +(\d+) +\(successful (\d+), failed (\d+):/m.exec(out);
    expect(completions, out).not.toBeNull();
    expect(Number(completions![1])).toBe(Number(completions![2]) + Number(completions![3]));
    expectChecksHold(out);
    expect(run.stderr()).toBe('');
    // The server lives only as long as the demo.
    await expect(fetch(url!)).rejects.toThrow();
  });

  it('stops cleanly on SIGINT: summary, exit 0', async () => {
    const run = startDemo(['--duration', '60', '--workers', '2']);
    await run.line(/^\[ *\d+\.\d s\] events /);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toMatch(/^summary: ran [\d.]+ s with 2 workers, stopped by SIGINT$/m);
    expectChecksHold(run.stdout());
  });

  it('rejects a bad flag with the usage on stderr and exit code 2; --help prints it', async () => {
    for (const args of [['--bogus'], ['--duration', 'soon'], ['--workers', '0']]) {
      const run = startDemo(args);
      expect(await run.exit, args.join(' ')).toBe(2);
      expect(run.stderr()).toMatch(/^error: /);
      expect(run.stderr()).toContain('usage:');
      expect(run.stdout()).toBe('');
    }
    const help = startDemo(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toContain('--duration SECONDS');
  });
});
