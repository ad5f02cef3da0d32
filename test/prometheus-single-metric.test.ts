// register.getSingleMetric(name) through the Prometheus adapter: a metric you define is
// found before the first scrape, even one defined after registerAtomicStats, and the
// object it returns is usable as the metric (prom-client's call shapes).
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { BACKENDS } from './helpers/backends.js';

type Usable = {
  inc(...a: unknown[]): void;
  set(...a: unknown[]): void;
  observe(...a: unknown[]): void;
  labels(...a: unknown[]): { inc(n?: number): void; observe(v: number): void };
  remove(...a: unknown[]): void;
  get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }>;
  labelNames: readonly string[];
};

describe.each(BACKENDS)('getSingleMetric through the adapter (%s backend)', (backend) => {
  it('a metric defined after registration is found before any scrape, and used through what it returns', async () => {
    const stats = StatsRegistry.create({ backend });
    const prom = new Registry();
    registerAtomicStats(stats, { register: prom });
    const c = stats.counter({ name: 'jobs_total', help: 'J.', labelNames: ['queue'] });
    stats.gauge({ name: 'depth', help: 'D.' });
    stats.histogram({ name: 'job_seconds', help: 'S.', labelNames: ['queue'], buckets: [1] });
    const counter = prom.getSingleMetric('jobs_total') as unknown as Usable;
    expect(counter).toBeDefined();
    expect(counter.labelNames).toEqual(['queue']);
    counter.inc({ queue: 'mail' });
    counter.inc({ queue: 'mail' }, 2);
    counter.labels('sms').inc(4);
    (prom.getSingleMetric('depth') as unknown as Usable).set(7);
    const h = prom.getSingleMetric('job_seconds') as unknown as Usable;
    h.observe({ queue: 'mail' }, 0.5);
    h.labels({ queue: 'sms' }).observe(2);
    // The writes are the metric's, visible to every reader.
    expect((await c.get()).values).toEqual([
      { labels: { queue: 'mail' }, value: 3 },
      { labels: { queue: 'sms' }, value: 4 },
    ]);
    expect((await counter.get()).values).toEqual([
      { labels: { queue: 'mail' }, value: 3 },
      { labels: { queue: 'sms' }, value: 4 },
    ]);
    const text = await prom.metrics();
    expect(text).toContain('jobs_total{queue="mail"} 3');
    expect(text).toContain('depth 7');
    expect(text).toContain('job_seconds_count{queue="sms"} 1');
    counter.remove('sms');
    expect((await c.get()).values).toEqual([{ labels: { queue: 'mail' }, value: 3 }]);
  });

  it('an unknown name is undefined and registers nothing; unregister() puts getSingleMetric back', () => {
    const stats = StatsRegistry.create({ backend });
    const prom = new Registry();
    const exp = registerAtomicStats(stats, { register: prom });
    const before = prom.getMetricsAsArray().map((m) => m.name);
    expect(prom.getSingleMetric('nothing_here')).toBeUndefined();
    expect(prom.getMetricsAsArray().map((m) => m.name)).toEqual(before);
    exp.unregister();
    stats.counter({ name: 'after_total', help: 'A.' });
    expect(prom.getSingleMetric('after_total')).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(prom, 'getSingleMetric')).toBe(false);
  });
});
