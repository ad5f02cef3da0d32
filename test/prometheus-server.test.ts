/*
 * A real Prometheus server (Debian's prometheus package; .ci/run installs it) scrapes an
 * HTTP server of this process, on 127.0.0.1 only, in both exposition formats; the test
 * then asks its HTTP API for a counter's value, a rate() and a histogram_quantile().
 * Bounded in time: every wait has its own bound, and the server is killed when the test
 * ends, whatever happened (test/helpers/prometheus.ts).
 */
import { type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { openMetricsRegistry } from './helpers/exporters.js';
import { syntheticHistogram, withExtraFamilies } from './helpers/families.js';
import { startPrometheus } from './helpers/prometheus.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('a real Prometheus server scraping the package', () => {
  it('ingests counters, rates and histograms from the text and the OpenMetrics formats', async () => {
    const registry = withExtraFamilies(StatsRegistry.create(), () => [syntheticHistogram()]);
    registry.counters('fixed', ['v']).counter('v').add(42);
    const moving = registry.counters('moving', ['ticks']).counter('ticks');
    // Exemplars (OpenMetrics only) and a summary, as a user's metrics.
    const reqs = registry.counter({ name: 'app_requests_total', help: 'Requests.', labelNames: ['route'], enableExemplars: true });
    reqs.inc({ labels: { route: '/a' }, value: 3, exemplarLabels: { trace_id: 'abc123' } });
    const lat = registry.histogram({ name: 'app_latency_seconds', help: 'Latency.', buckets: [0.1, 1], enableExemplars: true });
    lat.observe({ value: 0.5, exemplarLabels: { trace_id: 'def456' } });
    const sum = registry.summary({ name: 'app_work_seconds', help: 'Work.', percentiles: [0.5] });
    for (let i = 1; i <= 4; i++) sum.observe(i);
    const ticker = setInterval(() => moving.add(10), 50);
    cleanups.push(() => clearInterval(ticker));

    const text = new Registry();
    const om = openMetricsRegistry();
    registerAtomicStats(registry, { register: text });
    registerAtomicStats(registry, { register: om });
    const server: Server = createServer((req, res) => {
      const reg = req.url === '/metrics' ? text : req.url === '/om' ? om : undefined;
      if (reg === undefined) return void res.writeHead(404).end();
      reg.metrics().then(
        (body) => res.writeHead(200, { 'content-type': reg.contentType }).end(body),
        (err) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;

    const prom = await startPrometheus(
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        'scrape_configs:',
        '  - job_name: text',
        '    metrics_path: /metrics',
        `    static_configs: [{ targets: ['${target}'] }]`,
        '  - job_name: om',
        '    metrics_path: /om',
        `    static_configs: [{ targets: ['${target}'] }]`,
      ],
      ['--enable-feature=exemplar-storage'],
    );
    cleanups.push(() => prom.stop());
    const query = (promql: string) => prom.query(promql);

    // Wait (bounded) until both jobs have enough scrapes for a rate over them.
    await prom.waitFor('count_over_time(atomic_stats_set_moving_total[1m])', (r) => r.length === 2 && r.every((x) => Number(x.value[1]) >= 4), 60_000);

    // A counter's value, in both formats.
    const fixed = await query('atomic_stats_set_fixed_total');
    expect(fixed.map((s) => [s.metric.job, s.metric.set, s.metric.field, s.value[1]]).sort()).toEqual([
      ['om', 'fixed', 'v', '42'],
      ['text', 'fixed', 'v', '42'],
    ]);
    // rate() of a counter that keeps moving.
    const rates = await query('rate(atomic_stats_set_moving_total[1m])');
    expect(rates).toHaveLength(2);
    for (const r of rates) expect(Number(r.value[1])).toBeGreaterThan(0);
    // No family was ingested with a doubled suffix.
    expect(await query('count({__name__=~".+_total_total"})')).toEqual([]);
    // histogram_quantile on the histogram family: 70th of 100 falls 20 into the 40 of (0.1, 0.5].
    const q = await query('histogram_quantile(0.7, app_job_duration_seconds_bucket{queue="fast"})');
    expect(q).toHaveLength(2);
    for (const s of q) expect(Number(s.value[1])).toBeCloseTo(0.3, 9);
    // The server read our TYPE lines: the metadata says counter and histogram.
    const meta = await prom.getJson<{ data: Record<string, { type: string }[]> }>('/api/v1/metadata');
    expect(meta.data.atomic_stats_set_fixed_total?.[0]?.type ?? meta.data.atomic_stats_set_fixed?.[0]?.type).toBe('counter');
    expect(meta.data.app_job_duration_seconds?.[0]?.type).toBe('histogram');
    // The summary: its quantile series and count, in both formats.
    const median = await query('app_work_seconds{quantile="0.5"}');
    expect(median).toHaveLength(2);
    for (const s of median) expect(Math.abs(Number(s.value[1]) - 2) / 2).toBeLessThanOrEqual(0.0434);
    expect((await query('app_work_seconds_count')).map((s) => s.value[1])).toEqual(['4', '4']);
    expect(meta.data.app_work_seconds?.[0]?.type).toBe('summary');
    // Exemplars, ingested from the OpenMetrics job (the text format has none).
    const now = Date.now() / 1000;
    const exemplars = async (promql: string) => {
      const body = await prom.getJson<{ status: string; data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[] }>(
        `/api/v1/query_exemplars?query=${encodeURIComponent(promql)}&start=${now - 120}&end=${now + 60}`,
      );
      expect(body.status).toBe('success');
      return body.data.flatMap((d) => d.exemplars.map((e) => ({ job: d.seriesLabels.job, labels: e.labels, value: e.value })));
    };
    const counted = await exemplars('app_requests_total');
    expect(counted.map((e) => e.job)).toEqual(['om']);
    expect(counted[0]).toMatchObject({ labels: { trace_id: 'abc123' }, value: '3' });
    const observed = await exemplars('app_latency_seconds_bucket');
    expect(observed.map((e) => [e.job, e.labels.trace_id, e.value])).toEqual([['om', 'def456', '0.5']]);
  }, 120_000);
});
