// Copies a bench run's tables into the README (between the bench:start / bench:end
// markers), so the README always shows one run's numbers next to docs/bench.svg.
// `node bench/publish.mjs` publishes bench/results/latest.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { readRun, renderMarkdown } from './report.mjs';

export function publish(run) {
  const readmeUrl = new URL('../README.md', import.meta.url);
  const readme = readFileSync(readmeUrl, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error('README.md has no bench:start / bench:end markers');
  const block = `${start}\n![ns per operation by case](docs/bench.svg)\n\n${renderMarkdown(run)}\n${end}`;
  writeFileSync(readmeUrl, readme.slice(0, a) + block + readme.slice(b + end.length));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  publish(readRun(new URL('./results/latest.json', import.meta.url)));
  console.log('updated README.md bench tables');
}
