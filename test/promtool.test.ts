/*
 * `promtool check metrics` (Debian's prometheus package; .ci/run installs it) on everything
 * the package emits through prom-client, in its text and its OpenMetrics registries.
 * Missing promtool is a failure, not a skip: the lint is the point of this file.
 */
import { spawnSync } from 'node:child_process';
import { Counter as PromCounter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { InProcessEventBus, StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { openMetricsRegistry } from './helpers/exporters.js';
import { syntheticHistogram, withExtraFamilies } from './helpers/families.js';

function promtool(input: string): { status: number | null; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus; .ci/run installs it): ${r.error.message}`);
  const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return { status: r.status, problems };
}

/** A registry holding every kind of built-in entry, with awkward names, and some traffic. */
function everything(): { registry: StatsRegistry; bus: InProcessEventBus } {
  const registry = withExtraFamilies(StatsRegistry.create(), () => [syntheticHistogram()]);
  const set = registry.counters('http /users', ['s200', 's500', '__proto__', 'constructor'], { striped: true });
  set.counter('s200').add(12);
  set.counter('__proto__').inc();
  registry.counters('circuit_breaker', ['calls']).counter('calls').add(2);
  registry.counters('jobs_total', ['done']).counter('done').inc();
  registry.counters('2fast', ['n']);
  const steps = registry.stepExecutionStats('steps');
  steps.recordSuccess(40);
  steps.recordFailure();
  registry.workerSubscriberStats('completions');
  const breaker = registry.circuitBreaker('db', { failureThreshold: 1 });
  breaker.recordSuccess(1_000_000);
  breaker.recordFailure(2_000_000);
  const bus = new InProcessEventBus({ registry, name: 'orders' });
  bus.subscribe('order.*', () => {});
  return { registry, bus };
}

describe('promtool check metrics', () => {
  it('finds nothing to report in the text format', async () => {
    const { registry, bus } = everything();
    const prom = new Registry();
    registerAtomicStats(registry, { register: prom, buses: [bus] });
    const text = await prom.metrics();
    expect(text).toContain('atomic_stats_set_http__users_total');
    expect(text).toContain('app_job_duration_seconds_bucket');
    const { status, problems } = promtool(text);
    expect(problems).toEqual([]);
    expect(status).toBe(0);
  });

  it('the promtool check sees real problems (the lint is live)', () => {
    const { status, problems } = promtool('# HELP x_count c\n# TYPE x_count gauge\nx_count 1\n');
    expect(status).not.toBe(0);
    expect(problems.join('\n')).toContain('should not have "_count" suffix');
  });

  it('in the OpenMetrics format: TYPE lines name counter families without _total, samples carry it once', async () => {
    const { registry, bus } = everything();
    const om = openMetricsRegistry();
    registerAtomicStats(registry, { register: om, buses: [bus] });
    // prom-client's own counter, rendered by prom-client the same way, as the reference.
    new PromCounter({ name: 'app_requests_total', help: 'Requests.', registers: [om] }).inc();
    const text = await om.metrics();
    expect(text).not.toContain('_total_total');
    expect(text.endsWith('# EOF\n')).toBe(true);

    // Every sample line belongs to the family of the TYPE line before it, under the
    // OpenMetrics suffix rules (counter: _total; histogram: _bucket, _sum, _count).
    const types = new Map<string, string>();
    let family = '';
    for (const line of text.split('\n')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) {
        family = t[1]!;
        expect(types.has(family), `one TYPE line for ${family}`).toBe(false);
        types.set(family, t[2]!);
        if (t[2] === 'counter') expect(family).not.toMatch(/_total$/);
        continue;
      }
      if (line === '' || line.startsWith('#')) continue;
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
      const type = types.get(family);
      const allowed = type === 'counter' ? [`${family}_total`] : type === 'histogram' ? [`${family}_bucket`, `${family}_sum`, `${family}_count`] : [family];
      expect(allowed, line).toContain(name);
    }
    expect(types.get('atomic_stats_set_http__users')).toBe('counter');
    expect(types.get('atomic_stats_set_jobs')).toBe('counter');
    expect(types.get('app_job_duration_seconds')).toBe('histogram');

    // promtool reads only the classic text format: it takes an OpenMetrics counter's
    // `x_total` samples for an untyped family without HELP. That is the one complaint it
    // has, it has it for prom-client's own counter too, and it has no other.
    const { problems } = promtool(text);
    const counters = [...types].filter(([, t]) => t === 'counter').map(([n]) => `${n}_total no help text`);
    expect(problems).toContain('app_requests_total no help text');
    for (const p of problems) expect(counters, p).toContain(p);
  });
});
