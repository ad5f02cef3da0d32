/*
 * The server thread of serveMetrics: an HTTP server on an event loop of its own, so a
 * scrape is answered while the thread that started it (or any other) is busy. It reads
 * the registry through its own attachment: the counts are in shared memory, so nothing
 * is asked of any other thread at scrape time, and a blocked or dead thread's counts are
 * in every scrape.
 *
 * Rendering is the prom-client adapter's (atomic-stats/prometheus) on two prom-client
 * Registries of this thread, one per exposition format: the text format 0.0.4 and
 * OpenMetrics 1.0.0. A Registry renders one format, and each export reads the shared
 * memory only when its Registry is scraped.
 *
 * Start order: prom-client is loaded first (it is an optional peer: a missing one is a
 * typed error, not a crash), then the port is bound, and only then does the thread attach
 * to the registry. A start that fails (a port in use, above all) therefore never touched
 * the registry: no stripe taken, no attachment counted.
 *
 * In the built package this file is its own entry (dist/metrics-server-thread.js and
 * .cjs), which is why it lies beside the other entries rather than in serve/ with the
 * code it runs for: it is a user of the package, above index.ts, where serve/ is below.
 * Its imports of './index.js' and './prometheus.js' become imports of the
 * package by its own name ('atomic-stats', 'atomic-stats/prometheus'), which Node resolves
 * from inside the package through its "exports": the thread loads the package's files,
 * not a second bundled copy of the core. The adapter is loaded with import() once
 * prom-client is known to be there (so, from the CommonJS thread too, as ES modules;
 * it shares no state with the core but the registry object it is handed).
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { PrometheusExport } from './prometheus.js';
import { StatsRegistry } from './index.js';
import { wantsOpenMetrics } from './serve/negotiate.js';
import { type FromThread, type StartFailure, type ThreadData, type ToThread, errorRecord } from './serve/protocol.js';

type PromClient = typeof import('prom-client');
type PromRegistry = InstanceType<PromClient['Registry']>;

// How long close() lets responses being written finish before it drops their connections.
const DRAIN_MS = 2000;

const port = parentPort;
const netClose = NetServer.prototype.close;
const d = workerData as ThreadData;

function post(message: FromThread): void {
  port?.postMessage(message);
}

function fail(stage: StartFailure, err: unknown): void {
  post({ type: 'failed', stage, error: errorRecord(err) });
  // Nothing else holds the thread's event loop: it ends, and the caller rejects on its exit.
  port?.close();
}

function plain(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  const body = `${text}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
}

async function main(): Promise<void> {
  let prom: PromClient;
  try {
    prom = await import('prom-client');
  } catch (err) {
    fail('peer', err);
    return;
  }
  const { registerAtomicStats } = await import('./prometheus.js');
  const PromRegistryClass = prom.Registry ?? (prom as unknown as { default: PromClient }).default.Registry;

  let text: PromRegistry;
  let openMetrics: PromRegistry;
  let closing = false;
  let inFlight = 0;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const end = url.search(/[?#]/);
    if ((end < 0 ? url : url.slice(0, end)) !== d.path) return plain(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    const reg = wantsOpenMetrics(req.headers.accept) ? openMetrics : text;
    inFlight++;
    res.once('close', () => {
      // A response written (or its connection gone) while closing: the last one lets
      // close() drop the connections that are left (idle, or with a request half sent).
      if (--inFlight === 0 && closing) server.closeAllConnections();
    });
    reg.metrics().then(
      (body) => {
        if (res.destroyed) return;
        const headers = { 'content-type': reg.contentType, 'content-length': Buffer.byteLength(body), vary: 'Accept', ...(closing && { connection: 'close' }) };
        res.writeHead(200, headers).end(body);
      },
      (err: unknown) => {
        if (!res.destroyed) plain(res, 500, `atomic-stats: rendering the metrics failed: ${String(err)}`);
      },
    );
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(d.port, d.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    fail('listen', err);
    return;
  }

  let registry: StatsRegistry | undefined;
  const exports: PrometheusExport[] = [];
  try {
    registry = StatsRegistry.attach(d.handle, { backend: d.backend });
    text = new PromRegistryClass();
    openMetrics = new PromRegistryClass();
    openMetrics.setContentType(PromRegistryClass.OPENMETRICS_CONTENT_TYPE as never);
    exports.push(registerAtomicStats(registry, { register: text, prefix: d.prefix }));
    exports.push(registerAtomicStats(registry, { register: openMetrics, prefix: d.prefix }));
  } catch (err) {
    registry?.close();
    server.close();
    fail('start', err);
    return;
  }

  // Closing. http.Server#close() also drops the connections it deems idle (Node 19 and
  // later), and it deems idle one whose response has been ended but is still being
  // written: a large scrape to a slow reader would be cut short. So the listening socket
  // is closed with net.Server's own close(), which touches no connection, and this
  // thread drops the connections itself once no response is in flight (each one counts
  // until its 'close', which comes after its last byte went to the socket), or after
  // DRAIN_MS at the latest. Connections without a response in flight (idle keep-alive,
  // a request half sent) are dropped then too.
  let drain: ReturnType<typeof setTimeout> | undefined;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    netClose.call(server, () => {
      clearTimeout(drain);
      for (const e of exports) e.unregister();
      registry?.close();
      // The last handle of this thread's loop: the thread ends, and close() resolves on its exit.
      port?.close();
    });
    if (inFlight === 0) server.closeAllConnections();
    else drain = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
  };
  port?.on('message', (m: ToThread) => {
    if (m?.type === 'close') shutdown();
  });
  post({ type: 'listening', port: (server.address() as AddressInfo).port });
}

if (port === null) throw new Error('atomic-stats: the metrics server thread runs only as a worker thread started by serveMetrics');
main().catch((err: unknown) => fail('start', err));
