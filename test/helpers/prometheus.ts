/*
 * A real Prometheus server (Debian's `prometheus` package; .ci/run installs it) for the
 * tests, on 127.0.0.1 with a temporary config and data directory, every wait bounded.
 *
 * It listens on a port it chooses itself (`--web.listen-address=127.0.0.1:0`) and the test
 * reads the port from its log. A port picked by the test and handed over (listen on 0,
 * close, pass the number) could be taken in between by any process of the machine, and
 * then the test would be querying someone else's server.
 *
 * Its first scrape comes about 5 s after it starts (the scrape manager applies new
 * targets every 5 s), whatever scrape_interval says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchText, startProcess } from './processes.js';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  /** Its process id. */
  readonly pid: number | undefined;
  /** Its log so far (the end of it). */
  log(): string;
  /** An instant query; rejects (naming the query) on an error or after 10 s. */
  query(promql: string): Promise<Sample[]>;
  /** GET `path` (under base) as JSON; rejects (naming the path) on an error or after 10 s. */
  getJson<T>(path: string): Promise<T>;
  /**
   * Polls `promql` every 300 ms until `ready` holds of its result; rejects after `ms` with
   * the last result and the server's log. A query that fails meanwhile is retried.
   */
  waitFor(promql: string, ready: (r: Sample[]) => boolean, ms: number): Promise<Sample[]>;
  /** Kills it (SIGKILL), waits for its exit (bounded); its directory is removed then. */
  stop(): Promise<void>;
}

const START_MS = 30_000;
const QUERY_MS = 10_000;

/**
 * Starts Debian's prometheus with `config` (YAML lines) and `args`, and resolves once its
 * HTTP API listens. Rejects with what it printed if it exits first, or after 30 s; with
 * an install hint if there is no `prometheus` to run. The caller stops it (stop()); a
 * server left running is killed after the test anyway (test/setup/children.ts).
 */
export async function startPrometheus(config: readonly string[], args: readonly string[] = []): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), [...config, ''].join('\n'));
  // info: the level at which it logs the address it listens on.
  const p = startProcess('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, '--web.listen-address=127.0.0.1:0', '--log.level=info', ...args]);
  // Its directory goes with it, however it ends (stop(), or killed after the test).
  const removed = p.exit.then(() => rmSync(dir, { recursive: true, force: true }));
  const stop = async () => {
    await p.kill();
    await removed;
  };
  let base: string;
  try {
    const port = await p.waitFor((log) => /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(log)?.[1], START_MS, 'prometheus to listen (its log line "Listening on")');
    base = `http://127.0.0.1:${port}`;
  } catch (err) {
    await stop();
    // Resolved by now: it exited, or stop() killed it.
    const e = await p.exit;
    if (e.error) throw new Error(`prometheus is required (Debian: apt-get install prometheus; .ci/run installs it): ${e.error.message}`, { cause: e.error });
    throw err;
  }
  const getJson = async <T>(path: string): Promise<T> => {
    const r = await fetchText(`${base}${path}`, 'prometheus API', { ms: QUERY_MS });
    if (r.status !== 200) throw new Error(`prometheus API: GET ${path}: status ${r.status}: ${r.body.slice(0, 500)}`);
    return JSON.parse(r.body) as T;
  };
  const query = async (promql: string): Promise<Sample[]> => {
    const body = await getJson<{ status: string; data: { result: Sample[] } }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: status ${body.status}`);
    return body.data.result;
  };
  return {
    base,
    pid: p.child.pid,
    log: () => p.stderr(),
    query,
    getJson,
    async waitFor(promql: string, ready: (r: Sample[]) => boolean, ms: number): Promise<Sample[]> {
      const deadline = Date.now() + ms;
      let last: Sample[] | string = 'no answer yet';
      for (;;) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`prometheus exited (code ${p.child.exitCode}, signal ${p.child.signalCode}) while waiting for ${promql}:\n${p.stderr().slice(-4000)}`);
        try {
          const r = await query(promql);
          if (ready(r)) return r;
          last = r;
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() >= deadline) {
          throw new Error(`timed out after ${ms} ms waiting for prometheus to have ${promql} as expected; last answer: ${JSON.stringify(last)}\n--- prometheus log (end) ---\n${p.stderr().slice(-4000)}`);
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    stop,
  };
}
