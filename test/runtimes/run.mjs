// The cross-runtime suite: every check in checks/ and every example under examples/, run
// under each pinned runtime (runtimes.json: Node 22, 24 and 26, Bun, Deno) and under this
// machine's Node, against the build (`npm run build` first; `npm test` makes it). Prints a
// table per runtime and check, and exits non-zero when anything failed anywhere: a runtime
// that cannot be installed or started fails too, it is never skipped.
//
//   node test/runtimes/run.mjs [--runtime NAME,...] [--check NAME,...]
//
// NAME: `host` (this machine's Node) or a key of runtimes.json; checks: see CHECKS.
// Runtimes run one after another, and so do the checks of a runtime: the checks start
// worker threads, and two at once on a small machine would starve each other.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRuntime, readPins } from './install.mjs';
import { EXAMPLES, compareExample } from './examples.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHECKS_DIR = fileURLToPath(new URL('./checks/', import.meta.url));
const TIMEOUT_MS = 120_000;

/**
 * The checks, in order. `supports(runtime)`: where a check applies at all (a client's own
 * `engines`); elsewhere it shows as n/a in the table, which says so, and nothing fails.
 */
export const CHECKS = [
  { name: 'threads', script: 'threads.mjs' },
  { name: 'churn', script: 'churn.mjs' },
  { name: 'breaker', script: 'breaker.mjs' },
  { name: 'prom-client', script: 'prometheus.mjs', args: ['prom-client'] },
  // In a project of its own, where prom-client is not installed: an application on
  // @prometheus-io/client needs only that client.
  {
    name: 'prometheus-io',
    script: 'prometheus.mjs',
    args: ['@prometheus-io/client', '--without-prom-client'],
    project: { deps: ['@prometheus-io/client'], copy: ['checks/prometheus.mjs', 'checks/lib.mjs'] },
    supports: (rt) => enginesAccept(packageEngines('@prometheus-io/client'), rt),
  },
  // V8's traces: Node only (Bun is not V8; Deno's flags and traces are not Node's).
  { name: 'v8', script: 'v8.mjs', supports: (rt) => rt.kind === 'node' },
  ...EXAMPLES.map((e) => ({ name: `example:${e.name}`, example: e })),
];

function packageEngines(name) {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).engines ?? {};
}

/**
 * Whether an `engines` field accepts a runtime: only a Node runtime can match the `node`
 * key (Bun and Deno are not engines keys). Ranges are `^N` and `>=N` alternatives, the
 * forms the packages here use; anything else is refused loudly rather than guessed.
 */
export function enginesAccept(engines, runtime) {
  if (runtime.kind !== 'node') return false;
  const range = engines.node;
  if (range === undefined) return true;
  const major = Number(runtime.version.split('.')[0]);
  return range.split('||').some((part) => {
    const p = part.trim();
    const m = /^(\^|>=)(\d+)(?:\.\d+){0,2}$/.exec(p);
    if (!m) throw new Error(`runtimes: cannot read the engines range "${range}"`);
    return m[1] === '^' ? major === Number(m[2]) : major >= Number(m[2]);
  });
}

/** The command line that runs `script` under a runtime. */
export function commandFor(runtime, script, args = []) {
  switch (runtime.kind) {
    case 'node':
      return [runtime.exe, script, ...args];
    case 'bun':
      // Never fetch a package at run time: only what node_modules holds.
      return [runtime.exe, '--no-install', script, ...args];
    case 'deno':
      // Node's permissions (all), node_modules as npm installed it, no lock file written.
      return [runtime.exe, 'run', '--allow-all', '--node-modules-dir=manual', '--no-lock', script, ...args];
    default:
      throw new Error(`runtimes: unknown kind ${runtime.kind}`);
  }
}

const RUNTIME_ENV = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' };

/** Runs a command; resolves { code, stdout, stderr, ms } (code: null on a timeout, the process is killed). */
export function run([file, ...args], { cwd = ROOT, timeoutMs = TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(file, args, { cwd, env: { ...process.env, ...RUNTIME_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${err.message}\n`, ms: Date.now() - t0 });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, stdout, stderr: timedOut ? `${stderr}\n(killed after ${timeoutMs} ms)\n` : stderr, ms: Date.now() - t0 });
    });
  });
}

/**
 * A user's project in a temporary folder: a node_modules with the package as npm installs
 * it (its package.json and its build) beside `deps` (links to this repository's
 * node_modules), and `copy`: files and folders copied from `from`, same relative paths.
 */
export function makeProject({ deps = [], copy = [], from = ROOT }) {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-stats-project-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'atomic-stats-user', private: true, type: 'module' }));
  const pkg = join(dir, 'node_modules', 'atomic-stats');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  for (const name of deps) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  }
  for (const path of copy) cpSync(join(from, path), join(dir, path), { recursive: true });
  return dir;
}

/**
 * The examples as a user's project holds them: each example's folder, the packages they
 * declare, and the package itself installed. (In the repository an example resolves
 * atomic-stats to a stand-in that re-exports dist/ across folders, which Deno refuses
 * from inside node_modules.)
 */
export function examplesProject() {
  const deps = new Set();
  for (const e of EXAMPLES) {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'examples', e.name, 'package.json'), 'utf8'));
    for (const name of Object.keys(manifest.dependencies ?? {})) if (name !== 'atomic-stats') deps.add(name);
  }
  return makeProject({ deps: [...deps], copy: EXAMPLES.map((e) => e.name), from: join(ROOT, 'examples') });
}

function tail(text, lines = 30) {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? ['...', ...all.slice(-lines)] : all).map((l) => `    ${l}`).join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  const option = (name) => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1]?.split(',').filter(Boolean);
  };
  for (const a of argv) if (a.startsWith('--') && !['--runtime', '--check'].includes(a)) throw new Error(`runtimes: unknown option ${a}`);
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('runtimes: no build in dist/: run `npm run build` first');
  const pins = readPins();
  const names = option('--runtime') ?? ['host', ...Object.keys(pins)];
  const checks = option('--check') ? CHECKS.filter((c) => option('--check').includes(c.name)) : CHECKS;
  if (checks.length === 0) throw new Error(`runtimes: no check named ${option('--check')} (known: ${CHECKS.map((c) => c.name).join(', ')})`);

  const started = Date.now();
  const project = checks.some((c) => c.example) ? examplesProject() : undefined;
  const projects = new Map(checks.filter((c) => c.project).map((c) => [c.name, makeProject({ ...c.project, from: fileURLToPath(new URL('./', import.meta.url)) })]));
  const rows = [];
  let reference;
  try {
    // The examples' output on this machine's Node (which test/examples.test.ts checks
    // exactly) is what every runtime must print.
    if (project) {
      reference = {};
      const host = { name: 'host', kind: 'node', version: process.versions.node, exe: process.execPath };
      for (const c of checks.filter((x) => x.example)) {
        const r = await run(commandFor(host, join(c.example.name, 'main.mjs'), c.example.args), { cwd: project });
        if (r.code !== 0) throw new Error(`runtimes: example ${c.example.name} failed on this machine's Node:\n${tail(r.stdout + r.stderr)}`);
        reference[c.example.name] = r.stdout;
      }
    }
    for (const name of names) {
      const row = { name, version: '', results: {}, ms: 0 };
      rows.push(row);
      let runtime;
      try {
        runtime = name === 'host' ? { name, kind: 'node', version: process.versions.node, exe: process.execPath } : ensureRuntime(name, { pins, log: (l) => console.log(l) });
        row.version = runtime.version;
      } catch (err) {
        row.error = `not installed: ${err.message}`;
        console.log(`\n${name}: FAILED to install\n${tail(String(err.stack ?? err))}`);
        continue;
      }
      console.log(`\n${name} (${runtime.kind} ${runtime.version})`);
      for (const c of checks) {
        if (c.supports && !c.supports(runtime)) {
          row.results[c.name] = { status: 'n/a' };
          console.log(`  ${c.name.padEnd(24)} n/a (not supported by it)`);
          continue;
        }
        const r = c.example
          ? await run(commandFor(runtime, join(c.example.name, 'main.mjs'), c.example.args), { cwd: project })
          : c.project
            ? await run(commandFor(runtime, join('checks', c.script), c.args), { cwd: projects.get(c.name) })
            : await run(commandFor(runtime, join(CHECKS_DIR, c.script), c.args));
        let problem = r.code === 0 ? undefined : `exit code ${r.code}`;
        if (!problem && c.example) problem = compareExample(c.example, r, reference[c.example.name], runtime.kind);
        row.results[c.name] = { status: problem ? 'FAIL' : 'ok', ms: r.ms };
        row.ms += r.ms;
        console.log(`  ${c.name.padEnd(24)} ${problem ? 'FAIL' : 'ok  '} ${(r.ms / 1000).toFixed(1).padStart(5)} s${problem ? `: ${problem}` : ''}`);
        if (problem) console.log(tail(`${r.stdout}\n${r.stderr}`));
      }
    }
  } finally {
    for (const dir of [project, ...projects.values()]) if (dir) rmSync(dir, { recursive: true, force: true });
  }

  // The summary: one row per runtime, one column per check.
  const cols = checks.map((c) => c.name.replace(/^example:/, 'ex:'));
  const cell = (res) => (res === undefined ? '-' : res.status === 'ok' ? `ok ${(res.ms / 1000).toFixed(1)}s` : res.status);
  const table = [
    ['runtime', 'version', ...cols, 'total'],
    ...rows.map((r) => [r.name, r.version || '?', ...checks.map((c) => (r.error ? 'FAIL' : cell(r.results[c.name]))), r.error ? 'FAIL' : `${(r.ms / 1000).toFixed(1)}s`]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log(`\nCross-runtime suite (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  for (const [k, row] of table.entries()) {
    console.log(row.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd());
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const failed = rows.filter((r) => r.error || Object.values(r.results).some((x) => x.status === 'FAIL'));
  if (failed.length > 0) {
    console.log(`\nFAILED on ${failed.map((r) => r.name).join(', ')}`);
    process.exitCode = 1;
  } else {
    console.log('\nEvery check passed on every runtime.');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
