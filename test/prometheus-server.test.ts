/*
 * A real Prometheus server (Debian's prometheus package; .ci/run installs it) scrapes an
 * HTTP server of this process, on 127.0.0.1 only, in both exposition formats; the test
 * then asks its HTTP API for a counter's value, a rate() and a histogram_quantile().
 * Bounded in time: the server is killed when the test ends, whatever happened.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { openMetricsRegistry } from './helpers/exporters.js';
import { syntheticHistogram, withExtraFamilies } from './helpers/families.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

async function query(base: string, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

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

    const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-prom-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
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
        '',
      ].join('\n'),
    );
    const webPort = await freePort();
    const base = `http://127.0.0.1:${webPort}`;
    let log = '';
    const prom: ChildProcess = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
        '--log.level=warn',
        '--enable-feature=exemplar-storage',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prom.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const spawnError = new Promise<Error>((resolve) => prom.once('error', resolve));
    cleanups.push(() => prom.kill('SIGKILL'));

    // Wait (bounded) until both jobs have enough scrapes for a rate over them.
    const deadline = Date.now() + 40_000;
    let ready = false;
    while (!ready && Date.now() < deadline) {
      const failed = await Promise.race([spawnError, sleep(500).then(() => undefined)]);
      if (failed) throw new Error(`prometheus is required (Debian: apt-get install prometheus; .ci/run installs it): ${failed.message}`);
      if (prom.exitCode !== null) throw new Error(`prometheus exited with ${prom.exitCode}: ${log}`);
      try {
        const r = await query(base, 'count_over_time(atomic_stats_set_moving_total[1m])');
        ready = r.length === 2 && r.every((s) => Number(s.value[1]) >= 4);
      } catch {
        // not listening yet
      }
    }
    expect(ready, `prometheus did not scrape both jobs in time: ${log}`).toBe(true);

    // A counter's value, in both formats.
    const fixed = await query(base, 'atomic_stats_set_fixed_total');
    expect(fixed.map((s) => [s.metric.job, s.metric.set, s.metric.field, s.value[1]]).sort()).toEqual([
      ['om', 'fixed', 'v', '42'],
      ['text', 'fixed', 'v', '42'],
    ]);
    // rate() of a counter that keeps moving.
    const rates = await query(base, 'rate(atomic_stats_set_moving_total[1m])');
    expect(rates).toHaveLength(2);
    for (const r of rates) expect(Number(r.value[1])).toBeGreaterThan(0);
    // No family was ingested with a doubled suffix.
    expect(await query(base, 'count({__name__=~".+_total_total"})')).toEqual([]);
    // histogram_quantile on the histogram family: 70th of 100 falls 20 into the 40 of (0.1, 0.5].
    const q = await query(base, 'histogram_quantile(0.7, app_job_duration_seconds_bucket{queue="fast"})');
    expect(q).toHaveLength(2);
    for (const s of q) expect(Number(s.value[1])).toBeCloseTo(0.3, 9);
    // The server read our TYPE lines: the metadata says counter and histogram.
    const meta = (await (await fetch(`${base}/api/v1/metadata`)).json()) as { data: Record<string, { type: string }[]> };
    expect(meta.data.atomic_stats_set_fixed_total?.[0]?.type ?? meta.data.atomic_stats_set_fixed?.[0]?.type).toBe('counter');
    expect(meta.data.app_job_duration_seconds?.[0]?.type).toBe('histogram');
    // The summary: its quantile series and count, in both formats.
    const median = await query(base, 'app_work_seconds{quantile="0.5"}');
    expect(median).toHaveLength(2);
    for (const s of median) expect(Math.abs(Number(s.value[1]) - 2) / 2).toBeLessThanOrEqual(0.0434);
    expect((await query(base, 'app_work_seconds_count')).map((s) => s.value[1])).toEqual(['4', '4']);
    expect(meta.data.app_work_seconds?.[0]?.type).toBe('summary');
    // Exemplars, ingested from the OpenMetrics job (the text format has none).
    const now = Date.now() / 1000;
    const exemplars = async (promql: string) => {
      const res = await fetch(`${base}/api/v1/query_exemplars?query=${encodeURIComponent(promql)}&start=${now - 120}&end=${now + 60}`);
      const body = (await res.json()) as { status: string; data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[] };
      expect(body.status).toBe('success');
      return body.data.flatMap((d) => d.exemplars.map((e) => ({ job: d.seriesLabels.job, labels: e.labels, value: e.value })));
    };
    const counted = await exemplars('app_requests_total');
    expect(counted.map((e) => e.job)).toEqual(['om']);
    expect(counted[0]).toMatchObject({ labels: { trace_id: 'abc123' }, value: '3' });
    const observed = await exemplars('app_latency_seconds_bucket');
    expect(observed.map((e) => [e.job, e.labels.trace_id, e.value])).toEqual([['om', 'def456', '0.5']]);
  }, 60_000);
});
