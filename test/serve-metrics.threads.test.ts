/*
 * serveMetrics: a real HTTP server in a real worker thread, scraped with fetch, node:http,
 * raw sockets and from other processes. Everything here runs the built package (dist/),
 * as the server thread is a file of the build.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AtomicStatsError,
  InvalidOptionsError,
  type MetricsServer,
  RegistryClosedError,
  ServeMetricsError,
  StatsRegistry,
  serveMetrics,
} from '../dist/index.js';
import { wantsOpenMetrics } from '../src/serve/negotiate.js';
import { BACKENDS } from './helpers/backends.js';
import { startWorkers } from './helpers/workers.js';
import { parseScrape } from './helpers/exporters.js';
import { startPrometheus } from './helpers/prometheus.js';
import { fetchText, runCleanups, runProcess, startProcess, within } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

// Bounds of the waits below, generous for a loaded machine. Each failure says what it
// waited for. (close() itself terminates its thread 5 s after asking it to close.)
const START_MS = 30_000;
const CLOSE_MS = 20_000;
// The timeout of a test that starts another process (prometheus, node).
const PROCESS_TEST_MS = 120_000;

// After each test, whatever happened: every cleanup runs (a failing one does not stop the
// others), then every server it started is closed, within a bound. The cleanups come first
// so that a client process (a Prometheus scraping every second) is gone before the server
// closes. Child processes the tests start are also killed by test/setup/children.ts.
const open: MetricsServer[] = [];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  const errors = await runCleanups(cleanups);
  const servers = open.splice(0);
  await within(Promise.all(servers.map((s) => s.close())), CLOSE_MS, `close() of ${servers.length} metrics server(s)`).catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});
async function serve(registry: StatsRegistry, options?: Parameters<typeof serveMetrics>[1]): Promise<MetricsServer> {
  const starting = serveMetrics(registry, options);
  // A server that starts after all, past the bound, is closed then.
  const server = await within(starting, START_MS, 'serveMetrics() to start its thread').catch((err: unknown) => {
    void starting.then((late) => late.close(), () => {});
    throw err;
  });
  open.push(server);
  return server;
}

/** Everything observable about a registry from this thread. */
const state = (r: StatsRegistry) => ({ entries: r.entries(), usage: r.usage(), families: r.collect() });

async function expectRejectedUnchanged(r: StatsRegistry, call: () => Promise<unknown>, type: abstract new (...a: never[]) => Error): Promise<Error> {
  const before = state(r);
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(AtomicStatsError);
  expect(state(r)).toEqual(before);
  return err as Error;
}

function promtool(input: string): { status: number | null; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  if (r.error) throw new Error(`promtool is required (Debian: apt-get install prometheus; .ci/run installs it): ${r.error.message}`);
  return { status: r.status, problems: `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

/** Runs a node program to its end (bounded: killed after 30 s, which the result shows). */
function runNode(args: string[], cwd: string) {
  return runProcess(process.execPath, args, { cwd, timeoutMs: 30_000 });
}

describe('which format a scrape gets (Accept)', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['text/plain', false],
    ['text/plain;version=0.0.4', false],
    [PROMETHEUS_ACCEPT, true],
    ['application/openmetrics-text', true],
    ['Application/OpenMetrics-Text; version=1.0.0', true],
    ['application/openmetrics-text;q=0', false],
    ['text/plain;q=0.9,application/openmetrics-text;q=0.5', false],
    ['text/plain;q=0.5,application/openmetrics-text;q=0.9', true],
    ['application/openmetrics-text;q=0.2,*/*;q=0.1', true],
    ['application/json', false],
    // Prometheus 3 style: weights descending from its preferred format.
    ['application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1', true],
  ])('%j -> OpenMetrics: %s', (accept, expected) => {
    expect(wantsOpenMetrics(accept)).toBe(expected);
  });
});

describe('serveMetrics', () => {
  it('serves the registry on a free port (port 0), in the text format by default and OpenMetrics when asked', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(3);
    const server = await serve(registry, { port: 0 });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    expect(server.host).toBe('127.0.0.1');
    expect(server.path).toBe('/metrics');
    expect(server.threadId).toBeGreaterThan(0);

    for (const accept of [undefined, '*/*', 'text/plain;version=0.0.4']) {
      const res = await fetch(server.url, accept === undefined ? {} : { headers: { accept } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(TEXT_TYPE);
      expect(res.headers.get('vary')).toBe('Accept');
      const body = await res.text();
      expect(body).toContain('# TYPE atomic_stats_set_jobs_total counter');
      expect(parseScrape(body).get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(3);
      expect(body).not.toContain('# EOF');
    }
    const om = await fetch(server.url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.status).toBe(200);
    expect(om.headers.get('content-type')).toBe(OPENMETRICS_TYPE);
    const body = await om.text();
    expect(body).toContain('# TYPE atomic_stats_set_jobs counter\n');
    expect(body).toContain('atomic_stats_set_jobs_total{set="jobs",field="done"} 3\n');
    expect(body).not.toContain('_total_total');
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('answers HEAD with the headers only, other methods with 405, other paths with 404; a query string is ignored', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').inc();
    const server = await serve(registry, { port: 0, path: '/prom/metrics' });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/prom/metrics`);
    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(TEXT_TYPE);
    expect(await head.text()).toBe('');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(server.url, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      await res.arrayBuffer();
    }
    for (const other of ['/metrics', '/', '/prom/metrics/', '/prom/metricsx', '/prom']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${other}`);
      expect(res.status, other).toBe(404);
      await res.arrayBuffer();
    }
    const withQuery = await fetch(`${server.url}?target=x`);
    expect(withQuery.status).toBe(200);
    expect(await withQuery.text()).toContain('atomic_stats_set_jobs_total{set="jobs",field="done"} 1');
  });

  it('on an IPv6 address: the URL brackets it', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').inc();
    const server = await serve(registry, { port: 0, host: '::1' });
    expect(server.url).toBe(`http://[::1]:${server.port}/metrics`);
    expect(await (await fetch(server.url)).text()).toContain('atomic_stats_set_jobs_total{set="jobs",field="done"} 1');
  });

  it('passes the prefix to the exporter', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(2);
    const server = await serve(registry, { port: 0, prefix: 'myapp_' });
    const body = await (await fetch(server.url)).text();
    expect(parseScrape(body).get('myapp_set_jobs_total{set="jobs",field="done"}')).toBe(2);
    expect(body).not.toContain('atomic_stats_');
  });

  describe.each(BACKENDS)('with worker threads (%s backend)', (backend) => {
    it("serves every thread's counts, exactly, including entries created after the server started", async () => {
      const registry = StatsRegistry.create({ backend });
      const server = await serve(registry, { port: 0, backend });
      const iterations = 5000;
      const run = startWorkers<{ done: number }>(
        'serve-worker.mjs',
        [0, 1, 2].map((index) => ({ handle: registry.handle, backend, index, iterations })),
      );
      expect(await run.results).toEqual([0, 1, 2].map(() => ({ done: iterations })));
      const scrape = parseScrape(await (await fetch(server.url)).text());
      expect(scrape.get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(3 * iterations);
      for (const i of [0, 1, 2]) expect(scrape.get(`requests_total{worker="${i}"}`)).toBe(iterations);
      expect(scrape.get('latency_seconds_bucket{le="0.1"}')).toBe((3 * iterations) / 2);
      expect(scrape.get('latency_seconds_bucket{le="1"}')).toBe(3 * iterations);
      expect(scrape.get('latency_seconds_count')).toBe(3 * iterations);
      expect(scrape.get('latency_seconds_sum')).toBeCloseTo(((3 * iterations) / 2) * 0.55, 6);
    });
  });

  it('what it serves passes promtool check metrics (text format)', async () => {
    const registry = StatsRegistry.create();
    const set = registry.counters('http /users', ['s200', '__proto__'], { striped: true });
    set.counter('s200').add(12);
    registry.stepExecutionStats('steps').recordSuccess(40);
    registry.circuitBreaker('db', { failureThreshold: 1 }).recordSuccess(1_000_000);
    registry.gauge({ name: 'queue_depth', help: 'Depth.', labelNames: ['queue'] }).set({ queue: 'a' }, 4);
    registry.histogram({ name: 'job_duration_seconds', help: 'Jobs.', buckets: [0.1, 1] }).observe(0.3);
    const server = await serve(registry, { port: 0 });
    const text = await (await fetch(server.url)).text();
    expect(text).toContain('job_duration_seconds_bucket{le="1"} 1');
    expect(text).toContain('queue_depth{queue="a"} 4');
    const { status, problems } = promtool(text);
    expect(problems).toEqual([]);
    expect(status).toBe(0);
  });

  it('in OpenMetrics, promtool has only its known complaint (counters read as untyped without HELP), as for prom-client itself', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(4);
    registry.gauge({ name: 'queue_depth', help: 'Depth.' }).set(2);
    registry.histogram({ name: 'job_duration_seconds', help: 'Jobs.', buckets: [0.1, 1] }).observe(0.3);
    const server = await serve(registry, { port: 0 });
    const text = await (await fetch(server.url, { headers: { accept: PROMETHEUS_ACCEPT } })).text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => `${m[1]}_total no help text`);
    expect(counters).toContain('atomic_stats_set_jobs_total no help text');
    const { problems } = promtool(text);
    for (const p of problems) expect(counters, p).toContain(p);
  });

  it('a real Prometheus server scrapes it (its own Accept header) and ingests the counts with their types', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(42);
    const server = await serve(registry, { port: 0 });
    const prom = await startPrometheus([
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: serve',
      `    static_configs: [{ targets: ['127.0.0.1:${server.port}'] }]`,
    ]);
    cleanups.push(() => prom.stop());
    const result = await prom.waitFor('atomic_stats_set_jobs_total', (r) => r.length > 0, 60_000);
    expect(result.map((r) => [r.metric.set, r.metric.field, r.value[1]]), prom.log()).toEqual([['jobs', 'done', '42']]);
    expect((await prom.query('up{job="serve"}')).map((r) => r.value[1])).toEqual(['1']);
    const meta = await prom.getJson<{ data: Record<string, { type: string }[]> }>('/api/v1/metadata');
    expect(meta.data.atomic_stats_set_jobs?.[0]?.type ?? meta.data.atomic_stats_set_jobs_total?.[0]?.type).toBe('counter');
  }, PROCESS_TEST_MS);

  it('two servers on one registry serve the same counts; closing one leaves the other serving', async () => {
    const registry = StatsRegistry.create();
    const jobs = registry.counters('jobs', ['done']).counter('done');
    jobs.add(5);
    const a = await serve(registry, { port: 0 });
    const b = await serve(registry, { port: 0 });
    expect(a.port).not.toBe(b.port);
    expect(a.threadId).not.toBe(b.threadId);
    const line = 'atomic_stats_set_jobs_total{set="jobs",field="done"}';
    for (const s of [a, b]) expect(parseScrape(await (await fetch(s.url)).text()).get(line)).toBe(5);
    await a.close();
    jobs.add(1);
    expect(parseScrape(await (await fetch(b.url)).text()).get(line)).toBe(6);
    await expect(fetch(a.url)).rejects.toThrow();
  });

  it('a scrape is answered while the calling thread is blocked in a synchronous loop, from another process', async () => {
    const registry = StatsRegistry.create();
    registry.counters('jobs', ['done']).counter('done').add(11);
    const phase = registry.gauge({ name: 'serve_block_phase', help: 'Where the test thread is: 0 before its block, 1 in it, 2 after.' });
    const server = await serve(registry, { port: 0 });

    const scraper = startProcess(process.execPath, [join(ROOT, 'test/workers/scrape-while-blocked.mjs'), server.url]);
    // The scraper is up and has had an answer.
    await scraper.waitFor((out) => out.includes('ready\n'), START_MS, 'the scraper to print "ready" (its first scrape answered)');

    const blockStart = Date.now();
    phase.set(1);
    while (Date.now() - blockStart < 2500) {
      // busy: this thread's event loop runs nothing for 2.5 s
    }
    const blockEnd = Date.now();
    phase.set(2);

    // It ends once it has read phase 2 (and gives up by itself after 60 s).
    const exit = await scraper.exited(90_000, 'the scraper to read phase 2 and exit');
    expect(exit.code, scraper.stderr()).toBe(0);
    const result = JSON.parse(scraper.stdout().trim().split('\n').at(-1)!) as { during: number; firstAt?: number; firstBody?: string };
    // Answered while this thread was in its loop: the body says phase 1, and it arrived
    // (the scraper's clock, this machine's) before the loop ended.
    expect(result.during).toBeGreaterThanOrEqual(1);
    expect(result.firstAt).toBeGreaterThanOrEqual(blockStart);
    expect(result.firstAt).toBeLessThan(blockEnd);
    expect(parseScrape(result.firstBody!).get('atomic_stats_set_jobs_total{set="jobs",field="done"}')).toBe(11);
  }, PROCESS_TEST_MS);

  describe('close()', () => {
    it('resolves once the thread is gone: the port refuses, the thread has let go of its stripe; it is idempotent', async () => {
      const registry = StatsRegistry.create();
      const before = registry.usage();
      const server = await serveMetrics(registry, { port: 0 });
      await (await fetch(server.url)).text();
      // The server thread is one attachment, holding a stripe while it runs.
      expect(registry.usage().slotsInUse).toBe(before.slotsInUse + 1);
      expect(registry.usage().attachments).toBe(before.attachments + 1);
      const first = server.close();
      expect(server.close()).toBe(first);
      await first;
      expect(registry.usage().slotsInUse).toBe(before.slotsInUse);
      await expect(fetch(server.url)).rejects.toThrow();
      await server.close();
      // The port is free again.
      const again = await serve(registry, { port: server.port });
      expect(again.port).toBe(server.port);
    });

    it('while a request is half sent: its connection is dropped and close() resolves', async () => {
      const registry = StatsRegistry.create();
      const server = await serveMetrics(registry, { port: 0 });
      const socket = connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      // Headers never finished: the server has a request in progress on this connection.
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      await new Promise((r) => setTimeout(r, 50));
      await server.close();
      await socketClosed;
      expect(received).toBe('');
    });

    it('while a response is being written: it is written in full, then the connection closes and close() resolves', async () => {
      // A body (about 10 MB) far larger than what the socket buffers hold while this side
      // does not read: the server thread is still writing it when close() is called.
      const registry = StatsRegistry.create({ capacityBytes: 64 * 1024 * 1024 });
      const big = registry.counter({ name: 'big_total', help: 'Big.', labelNames: ['a', 'b', 'c', 'd'], maxSeries: 50_000 });
      const pad = 'x'.repeat(40);
      for (let i = 0; i < 50_000; i++) big.inc({ a: `${pad}${i}`, b: pad, c: pad, d: pad });
      const server = await serveMetrics(registry, { port: 0 });
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      const chunks: Buffer[] = [];
      const firstChunk = new Promise<void>((resolve) =>
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          if (chunks.length === 1) {
            socket.pause();
            resolve();
          }
        }),
      );
      const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      await firstChunk;
      const closed = server.close();
      // The server has stopped listening (so it is closing) before this side reads on.
      for (;;) {
        const refused = await new Promise<boolean>((resolve) => {
          const probe = connect(server.port, '127.0.0.1');
          probe.once('connect', () => probe.destroy() && resolve(false));
          probe.once('error', () => resolve(true));
        });
        if (refused) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      socket.resume();
      await socketClosed;
      await closed;
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, split).toString();
      const body = raw.subarray(split + 4);
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
      expect(length).toBeGreaterThan(8_000_000);
      expect(body.length).toBe(length);
      const scrape = parseScrape(body.toString());
      expect(scrape.get(`big_total{a="${pad}49999",b="${pad}",c="${pad}",d="${pad}"}`)).toBe(1);
    });

    it('while scrapes are in flight: each is answered in full or refused, never cut short, and close() resolves', async () => {
      const registry = StatsRegistry.create();
      for (let i = 0; i < 200; i++) registry.counters(`set_${i}`, ['a', 'b']).counter('a').add(i);
      const server = await serveMetrics(registry, { port: 0 });
      const scrapes = Array.from({ length: 20 }, () =>
        fetch(server.url).then(
          async (res) => ({ status: res.status, body: await res.text() }),
          (e: unknown) => ({ error: e }),
        ),
      );
      await new Promise((r) => setTimeout(r, 5));
      await server.close();
      const results = await Promise.all(scrapes);
      for (const r of results) {
        if ('error' in r) continue;
        expect(r.status).toBe(200);
        const scrape = parseScrape(r.body);
        expect(scrape.get('atomic_stats_set_set_199_total{set="set_199",field="a"}')).toBe(199);
        expect(scrape.get('atomic_stats_registry_entries')).toBe(200);
      }
      await expect(fetch(server.url)).rejects.toThrow();
    });
  });

  it('does not keep the process alive: a program that only serves and scrapes once exits on its own (ESM and CommonJS builds)', async () => {
    for (const script of ['serve-alone.mjs', 'serve-alone.cjs']) {
      const r = await runNode([join(ROOT, 'test/workers', script)], ROOT);
      expect(r.stderr, script).toBe('');
      expect(r.signal, script).toBeNull();
      expect(r.code, script).toBe(0);
      expect(r.stdout.trim(), script).toBe('atomic_stats_set_alone_total{set="alone",field="n"} 7');
    }
  }, PROCESS_TEST_MS);

  it('a program that awaits close() last gets there (the thread is held while it closes)', async () => {
    const r = await runNode([join(ROOT, 'test/workers/serve-alone.mjs'), 'close'], ROOT);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['atomic_stats_set_alone_total{set="alone",field="n"} 7', 'closed']);
  }, PROCESS_TEST_MS);

  describe('errors', () => {
    it('a port in use rejects with ServeMetricsError (cause EADDRINUSE), and changes nothing', async () => {
      const registry = StatsRegistry.create();
      registry.counters('jobs', ['done']).counter('done').inc();
      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => blocker.close());
      const { port } = blocker.address() as AddressInfo;
      const err = (await expectRejectedUnchanged(registry, () => serveMetrics(registry, { port }), ServeMetricsError)) as ServeMetricsError;
      expect(err.code).toBe('ERR_METRICS_SERVER');
      expect(err.name).toBe('ServeMetricsError');
      expect(err.message).toContain(`port ${port}`);
      expect((err.cause as { code?: string }).code).toBe('EADDRINUSE');
      expect(err.cause).toBeInstanceOf(Error);

      // And the port held by another serveMetrics.
      const first = await serve(registry, { port: 0 });
      const again = (await expectRejectedUnchanged(registry, () => serveMetrics(registry, { port: first.port }), ServeMetricsError)) as ServeMetricsError;
      expect((again.cause as { code?: string }).code).toBe('EADDRINUSE');
      expect((await fetch(first.url)).status).toBe(200);
    });

    it('a host that does not resolve rejects with ServeMetricsError', async () => {
      const registry = StatsRegistry.create();
      const err = (await expectRejectedUnchanged(registry, () => serveMetrics(registry, { port: 0, host: 'no-such-host.invalid' }), ServeMetricsError)) as ServeMetricsError;
      expect((err.cause as { code?: string }).code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    });

    it.each([
      [{ port: -1 }, 'port'],
      [{ port: 65536 }, 'port'],
      [{ port: 80.5 }, 'port'],
      [{ port: '9464' }, 'port'],
      [{ host: 1 }, 'host'],
      [{ host: '' }, 'host'],
      [{ host: 'a b' }, 'host'],
      [{ host: '[::1]' }, 'host'],
      [{ path: 'metrics' }, 'path'],
      [{ path: '' }, 'path'],
      [{ path: '/metrics?x=1' }, 'path'],
      [{ path: '/a b' }, 'path'],
      [{ path: 7 }, 'path'],
      [{ prefix: '1bad' }, 'prefix'],
      [{ backend: 'fast' }, 'backend'],
      [{ buses: [] }, 'buses'],
      [{ prot: 9464 }, 'prot'],
    ])('bad option %j: InvalidOptionsError naming %s, before anything starts', async (options, option) => {
      const registry = StatsRegistry.create();
      const err = (await expectRejectedUnchanged(registry, () => serveMetrics(registry, options as never), InvalidOptionsError)) as InvalidOptionsError;
      expect(err.option).toBe(option);
    });

    it('options that are not an object, and a registry that is not one, are InvalidOptionsError; a closed registry is RegistryClosedError', async () => {
      const registry = StatsRegistry.create();
      for (const options of [null, 9464, 'x', []]) {
        const err = (await expectRejectedUnchanged(registry, () => serveMetrics(registry, options as never), InvalidOptionsError)) as InvalidOptionsError;
        expect(err.option).toBe('options');
      }
      for (const notRegistry of [undefined, null, {}, { handle: {} }, registry.handle]) {
        const err = (await expectRejectedUnchanged(registry, () => serveMetrics(notRegistry as never, { port: 0 }), InvalidOptionsError)) as InvalidOptionsError;
        expect(err.option).toBe('registry');
      }
      const closed = StatsRegistry.attach(registry.handle);
      closed.close();
      await expectRejectedUnchanged(registry, () => serveMetrics(closed, { port: 0 }), RegistryClosedError);
    });

    it('without prom-client installed: ServeMetricsError that says to install it, and nothing left running', async () => {
      // A copy of the built package in a directory where prom-client cannot be resolved.
      const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-no-peer-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const pkg = join(dir, 'node_modules', 'atomic-stats');
      mkdirSync(pkg, { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
      cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
      const program = `import { StatsRegistry, ServeMetricsError, serveMetrics } from 'atomic-stats';
        const registry = StatsRegistry.create();
        const before = JSON.stringify(registry.usage());
        try {
          await serveMetrics(registry, { port: 0 });
          console.log('served');
        } catch (err) {
          console.log(err instanceof ServeMetricsError, err.code, err.message);
          console.log(err.cause.code, JSON.stringify(registry.usage()) === before);
        }`;
      writeFileSync(join(dir, 'main.mjs'), program);
      const check = await runNode(['--input-type=module', '-e', "import('prom-client').then(() => console.log('found'), () => console.log('missing'))"], dir);
      expect(check.stdout.trim()).toBe('missing');
      const r = await runNode(['main.mjs'], dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual([
        'true ERR_METRICS_SERVER serveMetrics renders with prom-client, an optional peer dependency that is not installed: npm install prom-client',
        'ERR_MODULE_NOT_FOUND true',
      ]);
    }, PROCESS_TEST_MS);

    it('a package whose server-thread file is missing (a bundle that left it out): ServeMetricsError, nothing left running', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-no-thread-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const pkg = join(dir, 'node_modules', 'atomic-stats');
      mkdirSync(pkg, { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
      cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.includes('metrics-server-thread') });
      symlinkSync(join(ROOT, 'node_modules', 'prom-client'), join(dir, 'node_modules', 'prom-client'), 'dir');
      writeFileSync(
        join(dir, 'main.cjs'),
        `const { StatsRegistry, ServeMetricsError, serveMetrics } = require('atomic-stats');
        const registry = StatsRegistry.create();
        const before = JSON.stringify(registry.usage());
        serveMetrics(registry, { port: 0 }).then(
          () => console.log('served'),
          (err) => console.log(err instanceof ServeMetricsError, err.code, err.cause.code, JSON.stringify(registry.usage()) === before),
        );`,
      );
      const r = await runNode(['main.cjs'], dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('true ERR_METRICS_SERVER MODULE_NOT_FOUND true');
    }, PROCESS_TEST_MS);
  });
});
