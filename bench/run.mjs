// npm run bench: runs every case module in bench/cases/ (see harness/bench.mjs for the
// method and the case-module interface), prints each table with min / median / max over
// the repetitions and its same-run ratios, the physics table, the target verdicts and
// what the interference detector saw. A full run then writes bench/results/latest.json
// and latest.md (the one run the repository keeps: docs/benchmarks.md and the README cite
// it), redraws docs/bench.svg and copies its tables into the docs (--no-readme: not).
//
//   node bench/run.mjs [--quick] [--only SUBSTRING] [--reps N] [--round-ms MS]
//                      [--warm-ms MS] [--out NAME] [--no-write] [--no-readme]
//                      [--runtime NAME]
//
// Every other run is raw material kept on this machine only, in bench/results/local/,
// which git ignores (harness/outputs.mjs says what goes where). A full run also leaves a
// copy there named after its start time, so earlier runs stay at hand for comparison.
// --quick (or BENCH_QUICK=1) is a smoke run: 5 ms rounds, short warm-up, one redo; its
// numbers are not for publishing, so it writes local/quick.{json,md} instead.
// --only runs the tables or case ids containing SUBSTRING (and writes nothing unless
// --out names the file). --out NAME writes local/NAME.{json,md} instead of latest.
//
// --runtime NAME runs the whole harness under another runtime: `host` (the Node running
// this script) or a runtime of test/runtimes/runtimes.json (node22, node24, node26, bun,
// deno), installed on first use. The README's tables are taken on README_RUNTIME
// (harness/outputs.mjs): a full run goes there by default, and only a run there is
// published; elsewhere, a full run writes local/latest-NAME.*, a quick one local/quick-NAME.*.
//   npm run bench -- --runtime node22 --only physics    the physics (headline) table on Node 22
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBench } from './harness/bench.mjs';
import { README_RUNTIME, checkOutName, outputs } from './harness/outputs.mjs';
import { renderMarkdown, renderText } from './report.mjs';
import { drawChart } from './chart.mjs';
import { commandFor } from '../test/runtimes/run.mjs';
import { ensureRuntime, readPins } from '../test/runtimes/install.mjs';

// Set in the process this script starts under another runtime: that runtime's name.
const CHILD_ENV = 'ATOMIC_STATS_BENCH_RUNTIME';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new Error(`bench: ${name} needs a value`);
  return args[i + 1];
};
const KNOWN = new Set(['--quick', '--only', '--reps', '--round-ms', '--warm-ms', '--out', '--no-write', '--no-readme', '--runtime']);
for (const a of args) if (a.startsWith('--') && !KNOWN.has(a)) throw new Error(`bench: unknown option ${a}`);
const quick = flag('--quick') || process.env.BENCH_QUICK === '1';
const only = value('--only', '');
const publishing = !quick && !only && !value('--out');
const runtime = process.env[CHILD_ENV] ?? value('--runtime', publishing ? README_RUNTIME : 'host');

if (runtime !== 'host' && process.env[CHILD_ENV] === undefined) {
  // Run this same script, with the same options, under the runtime asked for.
  const pins = readPins();
  if (!(runtime in pins)) throw new Error(`bench: --runtime must be host or one of ${Object.keys(pins).join(', ')} (got ${runtime})`);
  const rt = ensureRuntime(runtime, { pins, log: (l) => console.log(l) });
  const rest = args.filter((a, i) => a !== '--runtime' && args[i - 1] !== '--runtime');
  console.log(`bench: running under ${runtime} (${rt.kind} ${rt.version})`);
  const [file, ...rtArgs] = commandFor(rt, fileURLToPath(import.meta.url), rest);
  const child = spawnSync(file, rtArgs, { stdio: 'inherit', env: { ...process.env, [CHILD_ENV]: runtime } });
  process.exit(child.status ?? 1);
}
const overrides = {};
if (value('--reps')) overrides.reps = Number(value('--reps'));
if (value('--round-ms')) overrides.roundMs = Number(value('--round-ms'));
if (value('--warm-ms')) overrides.warmMs = Number(value('--warm-ms'));
const out = value('--out', undefined);
if (out !== undefined) checkOutName(out); // before the run, not minutes later

const run = await runBench({ quick, only, overrides, log: (line) => console.log(line) });
run.runtime = runtimeOf(runtime);
console.log('\n' + renderText(run));

const { names, publish } = outputs({ quick, only, out, date: run.date, runtime });
if (!flag('--no-write')) {
  for (const name of names) {
    const url = new URL(`./results/${name}`, import.meta.url);
    mkdirSync(new URL('.', url), { recursive: true });
    writeFileSync(new URL(`${url.href}.json`), JSON.stringify(run, null, 2) + '\n');
    writeFileSync(new URL(`${url.href}.md`), renderMarkdown(run));
    console.log(`wrote bench/results/${name}.json and bench/results/${name}.md`);
  }
  if (publish) {
    drawChart(run, new URL('../docs/bench.svg', import.meta.url));
    console.log('wrote docs/bench.svg');
    if (!flag('--no-readme')) {
      const { publish: publishTables } = await import('./publish.mjs');
      publishTables(run);
      console.log('updated README.md bench tables');
    }
  }
}

/** The runtime this process runs on: its name here, what it is, and its version. */
function runtimeOf(name) {
  if (typeof process.versions.bun === 'string') return { name, kind: 'bun', version: process.versions.bun };
  if (typeof process.versions.deno === 'string') return { name, kind: 'deno', version: process.versions.deno };
  return { name, kind: 'node', version: process.versions.node };
}
