// Publishes a bench run: its full tables go into docs/benchmarks.md (between the
// bench:tables markers), and the README keeps only the chart (bench:start / bench:end) and
// its short summary (bench:summary), a handful of headline rows taken from the same run, so
// the README stays short and speaks of operations, not of internal targets.
// `node bench/publish.mjs` publishes bench/results/latest.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { readRun, renderMarkdown } from './report.mjs';

function replaceBetween(text, start, end, body, file) {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} has no ${start} / ${end} markers`);
  return text.slice(0, a) + `${start}\n${body}\n${end}` + text.slice(b + end.length);
}

// The README's summary: the physics table without its goals, i.e. each headline operation
// as a median (min–max) over the run's repetitions, next to its physical floor measured in
// the same repetitions on the same machine.
function summary(run) {
  const f1 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const range = (s) => (s && s.n ? `${f1(s.median)} (${f1(s.min)}–${f1(s.max)})` : '');
  const ratio = (s) => (s && s.n ? `${s.median.toFixed(2)}×` : '');
  const rows = ['| operation | ns/op | its floor, same run | ratio |', '|---|---:|---|---:|'];
  for (const p of run.physics ?? []) rows.push(`| ${p.name} | ${range(p.opNs)} | ${p.floorVariant.replace(/^floor: /, '')}: ${range(p.floorNs)} | ${ratio(p.ratio)} |`);
  return rows.join('\n');
}

export function publish(run, { readme = true } = {}) {
  const docsUrl = new URL('../docs/benchmarks.md', import.meta.url);
  writeFileSync(docsUrl, replaceBetween(readFileSync(docsUrl, 'utf8'), '<!-- bench:tables -->', '<!-- /bench:tables -->', renderMarkdown(run), 'docs/benchmarks.md'));
  if (!readme) return;
  const readmeUrl = new URL('../README.md', import.meta.url);
  let text = readFileSync(readmeUrl, 'utf8');
  text = replaceBetween(text, '<!-- bench:start -->', '<!-- bench:end -->', '![ns per operation by case](docs/bench.svg)', 'README.md');
  text = replaceBetween(text, '<!-- bench:summary -->', '<!-- /bench:summary -->', summary(run), 'README.md');
  writeFileSync(readmeUrl, text);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  publish(readRun(new URL('./results/latest.json', import.meta.url)));
  console.log('updated docs/benchmarks.md tables and the README summary');
}
