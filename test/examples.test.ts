import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOk } from './helpers/processes.js';

// Every example under examples/ is run here as a user runs it (`node main.mjs`, output piped),
// against the build `npm test` makes first, and its output compared exactly. Each one is a
// small project with a package.json of its own, whose `atomic-stats` is this repository
// (`file:../..`), so `npm install` in a clone installs the repository's build. Without an
// install, `atomic-stats` resolves to examples/node_modules/atomic-stats, a stand-in
// re-exporting dist/.

const EXAMPLES = ['quickstart', 'piscina-pool', 'prometheus-http', 'opentelemetry'];
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Output {
  stdout: string;
  stderr: string;
}

/** Runs an example's main.mjs; rejects on a non-zero exit or after 60 s (the child is killed). */
function run(example: string, args: string[] = []): Promise<Output> {
  return runOk(process.execPath, [`examples/${example}/main.mjs`, ...args], { timeoutMs: 60_000 });
}

const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('examples', () => {
  it('quick start prints the totals of four workers', async () => {
    const { stdout, stderr } = await run('quickstart');
    // The README's quick start, verbatim: four workers, 100 calls each through one breaker.
    expect(stdout.trim()).toBe('{ ok: 400, failed: 0 }\n400');
    expect(stderr).toBe('');
  }, 120_000);

  it('the quick start is the README\'s, verbatim (after the first comment line)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const tail = (code: string) => code.split('\n').slice(1).join('\n').trim();
    expect(tail(readFileSync(new URL('../examples/quickstart/main.mjs', import.meta.url), 'utf8'))).toBe(tail(blocks[0]!));
    expect(tail(readFileSync(new URL('../examples/quickstart/worker.mjs', import.meta.url), 'utf8'))).toBe(tail(blocks[1]!));
  });

  it('piscina pool: recycled threads share counters and one breaker; a cancelled task records nothing', async () => {
    const { stdout, stderr } = await run('piscina-pool');
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({
      // Healthy: 100 jobs, 2 failures (503) and 1 timeout; one more success beside the
      // cancelled job; down: 5 failures open the breaker; then 60 refusals.
      jobs: { ok: 98, failed: 7, timeout: 1, rejected: 60 },
      returned: { ok: 98, failed: 7, timeout: 1, rejected: 60, cancelled: 1 },
      // The cancelled job started (its thread counted it before it was stopped) ...
      started: 167,
      // ... and reached the service; refused calls never did.
      inventoryRequests: 107,
      breaker: {
        state: 'Open',
        // The cancelled call is in no count of the breaker.
        total_calls: 106,
        success_count: 98,
        failure_count: 8,
        rejected_calls: 60,
        times_opened: 1,
      },
      attachedOncePerThread: true,
      // Every pool thread's stripe was handed back (the main thread holds the last one).
      stripesInUse: 1,
      threads: {
        // The main thread's watchThreads saw the pool thread that ran the blocking job stall, once.
        stallsOfTheBlockedThread: 1,
        // However many threads the pool went through, the `thread` label took no more values than the stripes.
        labelsWithinStripes: true,
        // Each pool thread's slot went back with its stripe.
        monitoredAfterDestroy: 0,
      },
    });
  }, 120_000);

  it('Prometheus HTTP: prom-client default metrics and every worker\'s counts on /metrics, with a Content-Type', async () => {
    const { stdout, stderr } = await run('prometheus-http', ['--once']);
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['status: 200', 'content-type: text/plain; version=0.0.4; charset=utf-8', '']);
    const body = lines.slice(3);
    // prom-client's default metrics ...
    expect(body).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(body.some((l) => /^process_cpu_user_seconds_total \d+(\.\d+)?$/.test(l))).toBe(true);
    const [major, minor, patch] = process.versions.node.split('.');
    expect(body).toContain(`nodejs_version_info{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"} 1`);
    // ... and ours: a counter set the workers created after registration, a histogram
    // under the name it was given, and the registry's stripe accounting (three workers
    // attached, each handed its stripe back on exit).
    const ours = [
      '# TYPE atomic_stats_set_http_requests_total counter',
      'atomic_stats_set_http_requests_total{set="http_requests",field="ok"} 29700',
      'atomic_stats_set_http_requests_total{set="http_requests",field="failed"} 300',
      '# HELP http_request_duration_seconds Time to answer a request.',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.01",route="/users"} 0',
      'http_request_duration_seconds_bucket{le="0.1",route="/users"} 29700',
      'http_request_duration_seconds_bucket{le="1",route="/users"} 30000',
      'http_request_duration_seconds_bucket{le="+Inf",route="/users"} 30000',
      'http_request_duration_seconds_sum{route="/users"} 2006.25',
      'http_request_duration_seconds_count{route="/users"} 30000',
      'atomic_stats_registry_attachments_total 4',
      'atomic_stats_registry_attachments_without_stripe_total 0',
      'atomic_stats_registry_stripes_in_use 1',
    ];
    for (const line of ours) expect(body).toContain(line);
    // The histogram's samples come in this order, one block.
    const at = body.indexOf(ours[5]!);
    expect(body.slice(at, at + 6)).toEqual(ours.slice(5, 11));
  }, 120_000);

  it('OpenTelemetry: a periodic reader exports every worker\'s counter and histogram values', async () => {
    const { stdout, stderr } = await run('opentelemetry');
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual([
      'before:',
      '  atomic-stats checkout_duration_seconds (s) {} buckets {"boundaries":[0.1,0.5,1],"counts":[0,0,0,0]} sum 0 count 0',
      'after:',
      '  atomic-stats checkout_duration_seconds (s) {} buckets {"boundaries":[0.1,0.5,1],"counts":[2700,0,300,0]} sum 393.75 count 3000',
      '  checkout-service orders (1) {"region":"eu"} 2000',
      '  checkout-service orders (1) {"region":"us"} 1000',
    ]);
  }, 120_000);
});

describe('example projects', () => {
  const root = readJson('package.json');
  const installed = (name: string): string => (readJson(`node_modules/${name}/package.json`).version as string) ?? '';

  it('every example folder is run by this file', () => {
    const folders = readdirSync('examples', { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'node_modules')
      .map((d) => d.name);
    expect(folders.sort()).toEqual([...EXAMPLES].sort());
  });

  it.each(EXAMPLES)('%s declares exactly the packages it imports, in ranges that accept the versions tested here', (example) => {
    const pkg = readJson(`examples/${example}/package.json`);
    expect(pkg.private).toBe(true);
    expect(pkg.scripts).toEqual({ start: 'node main.mjs' });
    const imported = new Set<string>();
    for (const file of readdirSync(`examples/${example}`).filter((f) => f.endsWith('.mjs'))) {
      const source = readFileSync(`examples/${example}/${file}`, 'utf8');
      for (const [, spec] of source.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gms)) {
        if (spec!.startsWith('.') || spec!.startsWith('node:') || builtinModules.includes(spec!)) continue;
        // A package name is its first segment, or its first two when scoped.
        imported.add(spec!.split('/').slice(0, spec!.startsWith('@') ? 2 : 1).join('/'));
      }
    }
    const deps = pkg.dependencies as Record<string, string>;
    // Declared: what it imports, plus the peers those need installed beside them (one copy
    // of @opentelemetry/api for the SDK and the code that uses it).
    const peers = new Set<string>();
    for (const name of imported) {
      const manifest = name === 'atomic-stats' ? root : readJson(`node_modules/${name}/package.json`);
      const optional = (manifest.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>;
      for (const peer of Object.keys((manifest.peerDependencies ?? {}) as object)) if (!optional[peer]?.optional) peers.add(peer);
    }
    for (const name of imported) expect(deps, `${example} imports ${name}`).toHaveProperty([name]);
    for (const name of Object.keys(deps)) expect(imported.has(name) || peers.has(name), `${example} declares ${name}`).toBe(true);
    for (const [name, range] of Object.entries(deps)) {
      if (name === 'atomic-stats') continue; // the repository itself: below
      const version = installed(name);
      expect(caretAccepts(range, version), `${name}@${range} accepts ${version}`).toBe(true);
    }
  });

  it.each(EXAMPLES)('%s depends on atomic-stats as this repository, which npm installs from a clone', (example) => {
    const spec = (readJson(`examples/${example}/package.json`).dependencies as Record<string, string>)['atomic-stats']!;
    // npm resolves a file: spec against the folder of the package.json that holds it.
    expect(spec).toMatch(/^file:/);
    const target = resolve(ROOT, 'examples', example, spec.slice('file:'.length));
    expect(target).toBe(resolve(ROOT));
    expect(readJson(join(target, 'package.json')).name).toBe('atomic-stats');
  });

  it('npm install in an example of a clone links atomic-stats to the clone, offline, and the example runs', async () => {
    // A clone as npm sees it (the package's manifest and its build), holding a copy of the quick start.
    const clone = mkdtempSync(join(tmpdir(), 'atomic-stats-clone-'));
    try {
      writeFileSync(join(clone, 'package.json'), readFileSync(join(ROOT, 'package.json')));
      symlinkSync(join(ROOT, 'dist'), join(clone, 'dist'), 'dir');
      mkdirSync(join(clone, 'examples'));
      const example = join(clone, 'examples', 'quickstart');
      cpSync(join(ROOT, 'examples', 'quickstart'), example, { recursive: true });
      const exec = async (file: string, args: string[]) => (await runOk(file, args, { cwd: example, timeoutMs: 120_000, group: true })).stdout;
      await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts']);
      expect(realpathSync(join(example, 'node_modules', 'atomic-stats'))).toBe(realpathSync(clone));
      expect((await exec(process.execPath, ['main.mjs'])).trim()).toBe('{ ok: 400, failed: 0 }\n400');
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  }, 120_000);

  it('the stand-in for the installed package has every entry point of the package, re-exporting the build', () => {
    const standIn = readJson('examples/node_modules/atomic-stats/package.json');
    expect(standIn.name).toBe(root.name);
    const entries = Object.keys(root.exports as object).filter((e) => e !== './package.json');
    const standInExports = standIn.exports as Record<string, string>;
    expect(Object.keys(standInExports).sort()).toEqual(entries.sort());
    for (const entry of entries) {
      const target = (root.exports as Record<string, { import: { default: string } }>)[entry]!.import.default;
      const source = readFileSync(`examples/node_modules/atomic-stats/${standInExports[entry]}`, 'utf8');
      expect(source.trim()).toBe(`export * from '../../../${target.replace(/^\.\//, '')}';`);
    }
  });
});

/** Whether a caret range `^x.y.z` accepts `version` (npm's rule, release versions only). */
function caretAccepts(range: string, version: string): boolean {
  const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
  const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m || !v) return false;
  const [r0, r1, r2] = m.slice(1).map(Number) as [number, number, number];
  const [v0, v1, v2] = v.slice(1).map(Number) as [number, number, number];
  const atLeast = v0 > r0 || (v0 === r0 && (v1 > r1 || (v1 === r1 && v2 >= r2)));
  if (!atLeast) return false;
  if (r0 > 0) return v0 === r0;
  if (r1 > 0) return v0 === 0 && v1 === r1;
  return v0 === 0 && v1 === 0 && v2 === r2;
}
