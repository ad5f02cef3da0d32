// Renders a bench run (bench/results/latest.json, version 2) as text and as Markdown.
// Every figure is min / median / max over the repetitions; a ratio is computed inside
// each repetition (this variant's round / the baseline's round, measured seconds apart)
// and only then summarised, so the ratio's range is a range of same-run ratios.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const f1 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (s, unit = '') => (s && s.n ? `${f1(s.median)}${unit} (${f1(s.min)}–${f1(s.max)})` : '');
const r2 = (x) => x.toFixed(x < 0.1 ? 3 : 2);
const ratio = (s) => (s && s.n ? `${r2(s.median)}× (${r2(s.min)}–${r2(s.max)})` : '');

function tables(run) {
  const byTable = new Map();
  for (const g of run.groups) {
    if (!byTable.has(g.table)) byTable.set(g.table, []);
    byTable.get(g.table).push(g);
  }
  return [...byTable].map(([name, groups]) => {
    const variants = [...new Set(groups.flatMap((g) => g.variants.map((v) => v.variant)))];
    const base = groups.flatMap((g) => g.variants).find((v) => v.baseline)?.variant;
    // A variant covering `units` units per operation (say 1000 entries) also gets ns per unit.
    const unit = groups.flatMap((g) => g.variants).find((v) => v.units)?.unit;
    const perUnit = (v) => (v.units && v.ns?.n ? range({ min: v.ns.min / v.units, median: v.ns.median / v.units, max: v.ns.max / v.units, n: v.ns.n }) : '');
    const lines = variants.map((name) => {
      const cols = groups.flatMap((g) => {
        const v = g.variants.find((x) => x.variant === name);
        if (!v) return [...(base ? ['', ''] : ['']), ...(unit ? [''] : [])];
        const marked = v.reps.filter((r) => r.marked).length;
        const ns = range(v.ns) + (marked ? ` ⚠${marked}` : '');
        return [ns, ...(unit ? [perUnit(v)] : []), ...(base ? [ratio(v.vsBaseline)] : [])];
      });
      return [name + (name === base ? ' (baseline)' : ''), ...cols];
    });
    // A table whose variants differ in thread count (mixedThreads) names the count in each variant.
    const nsHead = (g) => (g.mixedThreads ? 'ns/op (all threads)' : `${g.threads} thr ns/op`);
    const header = ['variant', ...groups.flatMap((g) => [nsHead(g), ...(unit ? [`ns/${unit}`] : []), ...(base ? ['vs baseline'] : [])])];
    const notes = groups.map((g) => {
      const c = g.counts;
      return (
        `${g.mixedThreads ? 'all' : `${g.threads} thr`}: ${c.rounds} measured rounds, ${c.notOverlapped} discarded (threads did not overlap), ` +
        `${c.disturbed} redone (interference), ${c.marked} kept marked ⚠; ` +
        `other processes ${g.context.othersCpus.toFixed(2)} CPUs, steal ${g.context.stealMs.toFixed(0)} ms`
      );
    });
    return { name, header, lines, notes };
  });
}

function physicsRows(run) {
  return (run.physics ?? []).map((p) => [p.name, range(p.opNs), `${p.floorVariant.replace(/^floor: /, '')}: ${range(p.floorNs)}`, ratio(p.ratio), p.goal ? `≤ ${p.goal}×` : '']);
}

const PHYSICS_HEADER = ['operation', 'ns/op', 'floor: ns/op', 'ratio to floor', 'goal'];
const VERDICT_HEADER = ['target', 'required', 'measured (median, min–max)', 'verdict'];

function verdictRows(run) {
  return run.verdicts.map((v) => [
    v.name,
    v.target,
    v.range ? `${f1(v.range.median)} (${f1(v.range.min)}–${f1(v.range.max)})` : (v.measured ?? ''),
    v.verdict + (v.why ? ` (${v.why})` : '') + (v.marked && v.verdict !== 'inconclusive' ? ` [${v.marked} marked reps not counted]` : ''),
  ]);
}

function intro(run) {
  const o = run.options;
  return (
    `${run.quick ? 'QUICK smoke run (not for publishing): ' : ''}run ${run.date.slice(0, 16)}Z, ${runtimeLabel(run)}, ${run.cpus} × ${run.cpu}, ${run.seconds} s. ` +
    `ns per operation, median (min–max) over ${o.reps} interleaved repetitions of ${o.roundMs} ms rounds after ${o.warmMs} ms of warm-up per variant; ` +
    `ratios are computed within each repetition against the table's baseline (lower is faster). ` +
    `⚠n: n repetitions kept although interference or a missing overlap touched them after ${o.maxRedo} redos.`
  );
}

function interferenceLine(run) {
  const i = run.interference;
  return (
    `Interference: ${i.rounds} measured rounds; ${i.notOverlapped} discarded because the threads did not overlap ≥ ${run.options.minOverlap * 100}%; ` +
    `${i.disturbed} redone because a thread waited for a CPU or lost run time; ${i.marked} kept marked; ` +
    `other processes used ${i.meanOthersCpus.toFixed(2)} CPUs on average (worst table ${i.othersCpus.toFixed(2)}); steal ${i.stealMs.toFixed(0)} ms.` +
    (i.blindRounds ? ` WARNING: ${i.blindRounds} rounds ran without per-thread scheduler counters (not Linux?): interference went undetected in them.` : '')
  );
}

function textTable(header, lines) {
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => String(l[i] ?? '').length)));
  return all.map((l) => l.map((c, i) => String(c ?? '').padEnd(widths[i])).join('  ').trimEnd());
}

export function renderText(run) {
  const out = [intro(run), ''];
  for (const t of tables(run)) {
    out.push(`== ${t.name}`, ...textTable(t.header, t.lines), ...t.notes.map((n) => `   ${n}`), '');
  }
  if (run.physics?.length) out.push('== physics: each headline operation against its floor', ...textTable(PHYSICS_HEADER, physicsRows(run)), '');
  if (run.verdicts?.length) {
    out.push('== targets');
    for (const [name, target, measured, verdict] of verdictRows(run)) out.push(`${verdict.split(' ')[0].toUpperCase().padEnd(12)} ${name}: ${measured} (target ${target}) ${verdict.includes('(') ? verdict.slice(verdict.indexOf('(')) : ''}`.trimEnd());
    out.push('');
  }
  out.push(interferenceLine(run));
  return out.join('\n');
}

function mdTable(header, lines) {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)];
}

export function renderMarkdown(run) {
  const out = [intro(run), ''];
  for (const t of tables(run)) {
    out.push(`**${t.name}**`, '', ...mdTable(t.header, t.lines), '', ...t.notes.map((n) => `<sub>${n}</sub><br>`), '');
  }
  if (run.physics?.length) out.push('**Physics: each headline operation against its floor on this machine**', '', ...mdTable(PHYSICS_HEADER, physicsRows(run)), '');
  if (run.verdicts?.length) {
    const rows = verdictRows(run).map(([n, t, m, v]) => [n, t, m, v.startsWith('met') ? v : `**${v}**`]);
    out.push('**Targets**', '', ...mdTable(VERDICT_HEADER, rows), '');
  }
  out.push(interferenceLine(run), '');
  return out.join('\n');
}

export function readRun(url) {
  const run = JSON.parse(readFileSync(url, 'utf8'));
  if (run.version !== 2) throw new Error(`${url}: a results file from the old harness; run npm run bench to regenerate it`);
  return run;
}

// `node bench/report.mjs [path/to/NAME.json]` re-renders the Markdown from saved JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2] ? pathToFileURL(resolve(process.argv[2])) : new URL('./results/latest.json', import.meta.url);
  const run = readRun(url);
  writeFileSync(new URL(url.href.replace(/\.json$/, '.md')), renderMarkdown(run));
  console.log(renderText(run));
}

/** "Node v24.22.3", "Bun 1.4.5", "Deno 2.9.6": the runtime a run was taken on (runs before runtimes were recorded: Node). */
export function runtimeLabel(run) {
  const rt = run.runtime;
  if (rt === undefined || rt.kind === 'node') return `Node ${rt ? `v${rt.version}` : run.node}`;
  return `${rt.kind === 'bun' ? 'Bun' : 'Deno'} ${rt.version}`;
}
