// A /metrics endpoint for a worker pool: the workers count into the shared registry, the
// main thread serves every count through prom-client, next to prom-client's default
// metrics, without asking any worker for anything. Run with
// `node examples/prometheus-http/main.mjs` after a build, then
// `curl -s http://127.0.0.1:9464/metrics`; `--once` serves on a free port of the loopback
// interface, scrapes itself once, prints what a scraper would see and exits.
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { StatsRegistry } from 'atomic-stats';
import { registerAtomicStats } from 'atomic-stats/prometheus';

const once = process.argv.includes('--once');
const registry = StatsRegistry.create();
const prom = new Registry();
collectDefaultMetrics({ register: prom });
registerAtomicStats(registry, { register: prom });

const server = http.createServer(async (req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  try {
    const body = await prom.metrics();
    // Prometheus 3 refuses a scrape without a Content-Type: send the Registry's own.
    res.writeHead(200, { 'Content-Type': prom.contentType }).end(body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(String(err));
  }
});
await new Promise((resolve) => server.listen(once ? 0 : 9464, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/metrics`;

// Each worker handles some "requests"; the counter set is created by the workers, after
// registration, and is in the very next scrape all the same.
const workers = [1, 2, 3].map((id) => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { handle: registry.handle, id } }));
await Promise.all(workers.map((w) => new Promise((r) => w.on('exit', r))));

if (once) {
  const res = await fetch(url);
  // What a scraper sees: the status, the Content-Type, then the body as it came.
  console.log(`status: ${res.status}`);
  console.log(`content-type: ${res.headers.get('content-type')}`);
  console.log('');
  console.log(await res.text());
  server.close();
} else {
  console.log(`metrics: ${url}`);
}
