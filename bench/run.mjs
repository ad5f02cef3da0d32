// npm run bench: runs every case module in bench/cases/ (see harness/bench.mjs for the
// method and the case-module interface), prints each table with min / median / max over
// the repetitions and its same-run ratios, the physics table, the target verdicts and
// what the interference detector saw. A full run then writes bench/results/latest.json
// and latest.md (the one run the repository keeps: docs/benchmarks.md and the README cite
// it), redraws docs/bench.svg and copies its tables into the docs (--no-readme: not).
//
//   node bench/run.mjs [--quick] [--only SUBSTRING] [--reps N] [--round-ms MS]
//                      [--warm-ms MS] [--out NAME] [--no-write] [--no-readme]
//
// Every other run is raw material kept on this machine only, in bench/results/local/,
// which git ignores (harness/outputs.mjs says what goes where). A full run also leaves a
// copy there named after its start time, so earlier runs stay at hand for comparison.
// --quick (or BENCH_QUICK=1) is a smoke run: 5 ms rounds, short warm-up, one redo; its
// numbers are not for publishing, so it writes local/quick.{json,md} instead.
// --only runs the tables or case ids containing SUBSTRING (and writes nothing unless
// --out names the file). --out NAME writes local/NAME.{json,md} instead of latest.
import { writeFileSync, mkdirSync } from 'node:fs';
import { runBench } from './harness/bench.mjs';
import { checkOutName, outputs } from './harness/outputs.mjs';
import { renderMarkdown, renderText } from './report.mjs';
import { drawChart } from './chart.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new Error(`bench: ${name} needs a value`);
  return args[i + 1];
};
const KNOWN = new Set(['--quick', '--only', '--reps', '--round-ms', '--warm-ms', '--out', '--no-write', '--no-readme']);
for (const a of args) if (a.startsWith('--') && !KNOWN.has(a)) throw new Error(`bench: unknown option ${a}`);
const quick = flag('--quick') || process.env.BENCH_QUICK === '1';
const only = value('--only', '');
const overrides = {};
if (value('--reps')) overrides.reps = Number(value('--reps'));
if (value('--round-ms')) overrides.roundMs = Number(value('--round-ms'));
if (value('--warm-ms')) overrides.warmMs = Number(value('--warm-ms'));
const out = value('--out', undefined);
if (out !== undefined) checkOutName(out); // before the run, not minutes later

const run = await runBench({ quick, only, overrides, log: (line) => console.log(line) });
console.log('\n' + renderText(run));

const { names, publish } = outputs({ quick, only, out, date: run.date });
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
