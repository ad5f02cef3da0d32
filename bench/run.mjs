// npm run bench: runs every case module in bench/cases/ (see harness/bench.mjs for the
// method and the case-module interface), prints each table with min / median / max over
// the repetitions and its same-run ratios, the physics table, the target verdicts and
// what the interference detector saw, then writes bench/results/latest.json and
// latest.md and redraws docs/bench.svg.
//
//   node bench/run.mjs [--quick] [--only SUBSTRING] [--reps N] [--round-ms MS]
//                      [--warm-ms MS] [--out NAME] [--no-write] [--no-readme]
//
// --quick (or BENCH_QUICK=1) is a smoke run: 5 ms rounds, short warm-up, one redo; its
// numbers are not for publishing, so it writes bench/results/quick.{json,md} instead.
// --only runs the tables or case ids containing SUBSTRING (and writes nothing unless
// --out names the file). A full run also copies its tables into README.md's bench block
// (--no-readme: not).
import { writeFileSync, mkdirSync } from 'node:fs';
import { runBench } from './harness/bench.mjs';
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

const run = await runBench({ quick, only, overrides, log: (line) => console.log(line) });
console.log('\n' + renderText(run));

const name = value('--out', only ? undefined : quick ? 'quick' : 'latest');
if (name && !flag('--no-write')) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`./results/${name}.json`, import.meta.url), JSON.stringify(run, null, 2) + '\n');
  writeFileSync(new URL(`./results/${name}.md`, import.meta.url), renderMarkdown(run));
  console.log(`wrote bench/results/${name}.json and bench/results/${name}.md`);
  if (name === 'latest') {
    drawChart(run, new URL('../docs/bench.svg', import.meta.url));
    console.log('wrote docs/bench.svg');
    if (!flag('--no-readme')) {
      const { publish } = await import('./publish.mjs');
      publish(run);
      console.log('updated README.md bench tables');
    }
  }
}
