// prom-client is an optional peer of atomic-stats/prometheus, and so is its successor
// @prometheus-io/client (which the cross-runtime suite scrapes on the Node versions it
// supports: test/runtimes/checks/prometheus.mjs). prom-client is loaded only for its
// global Registry, the default `register`.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register as globalRegister } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { StatsRegistry } from '../src/index.js';
import { registerAtomicStats } from '../src/prometheus.js';
import { runOk } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('the Prometheus adapter\'s peers', () => {
  it('without `register`, the families go to prom-client\'s global Registry, the one the application imports', async () => {
    const stats = StatsRegistry.create();
    stats.counters('peer_jobs', ['done']).counter('done').add(3);
    const exp = registerAtomicStats(stats);
    try {
      expect(await globalRegister.metrics()).toContain('atomic_stats_set_peer_jobs_total{set="peer_jobs",field="done"} 3');
    } finally {
      exp.unregister();
    }
    expect(await globalRegister.metrics()).not.toContain('atomic_stats_set_peer_jobs_total');
  });

  it('in a project without prom-client, the adapter loads; without `register` it is a typed error that registers nothing', async () => {
    // A project as npm lays it out: the package (its manifest and build), and no prom-client.
    const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-no-prom-client-'));
    try {
      mkdirSync(join(dir, 'node_modules', 'atomic-stats'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(dir, 'node_modules', 'atomic-stats', 'package.json'));
      cpSync(join(ROOT, 'dist'), join(dir, 'node_modules', 'atomic-stats', 'dist'), { recursive: true });
      writeFileSync(
        join(dir, 'main.mjs'),
        `
import { StatsRegistry } from 'atomic-stats';
import { registerAtomicStats } from 'atomic-stats/prometheus';
const promClient = await import('prom-client').then(() => 'installed', (e) => e.code);
const stats = StatsRegistry.create();
stats.counters('jobs', ['done']).counter('done').inc();
const before = JSON.stringify(stats.collect(), (k, v) => (typeof v === 'bigint' ? String(v) : v));
let error;
try { registerAtomicStats(stats); } catch (e) { error = { name: e.constructor.name, code: e.code, option: e.option, message: e.message }; }
const after = JSON.stringify(stats.collect(), (k, v) => (typeof v === 'bigint' ? String(v) : v));
console.log(JSON.stringify({ promClient, error, unchanged: before === after }));
`,
      );
      const { stdout: out } = await runOk(process.execPath, ['main.mjs'], { cwd: dir, timeoutMs: 30_000 });
      expect(JSON.parse(out)).toEqual({
        promClient: 'ERR_MODULE_NOT_FOUND',
        error: {
          name: 'InvalidOptionsError',
          code: 'ERR_INVALID_OPTIONS',
          option: 'register',
          message: 'register: is required when prom-client is not installed: pass the Registry of the Prometheus client you use (prom-client, @prometheus-io/client)',
        },
        unchanged: true,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
