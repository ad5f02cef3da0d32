// runBench(): the whole benchmark as a function, used by bench/run.mjs and by the
// harness's own test. Case modules (bench/cases/*.mjs) export:
//   cases      [{ id, table, variant, threads?: number[], baseline?: true, chunk?,
//                 mixThreads?: true, units?, unit?, blocks?: true }]
//              mixThreads: the table's variants run interleaved in one group although
//              their thread counts differ (each such case has exactly one), so that a
//              ratio between thread counts is a same-run ratio (the scaling tables).
//              units/unit: one operation covers `units` of `unit` (e.g. 1000 entries):
//              the report adds an ns-per-unit column.
//              blocks: the variant's threads sleep by design (a futex lock's waiters in
//              Atomics.wait), so a round is not judged disturbed for their low run time;
//              waiting for a CPU and steal still count (see judgeRound in proc.mjs).
//   setup(id, threads)        -> data (cloned to every thread)       [harness thread]
//   prepare(id, data, index)  -> { run(n) } or { runAsync(n) }, optional report()
//   verify(id, data, totalOps, reports)  throws when the final state is wrong
//   targets(results)?         -> [{ name, target, pass, measured, value? }]
//   physics?                  [{ name, id, floor, goal? }] (same table, one thread count)
// A case's `kind` is no longer read: run(n) and runAsync(n) go through the same rounds.
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { runGroup } from './group.mjs';
import { summarize } from './stats.mjs';
import { verdicts } from './verdicts.mjs';

export const FULL = { reps: 5, roundMs: 20, warmMs: 500, maxRedo: 3, minOverlap: 0.8, minClean: 3 };
export const QUICK = { reps: 5, roundMs: 5, warmMs: 40, maxRedo: 1, minOverlap: 0.8, minClean: 3 };

export function caseFiles() {
  const dir = new URL('../cases/', import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.mjs'))
    .sort()
    .map((f) => new URL(f, dir).href);
}

/** Throws a clear error for a case module that does not follow the interface above. */
export function checkModule(file, mod) {
  const bad = (what) => {
    throw new Error(`bench: ${file}: ${what}`);
  };
  if (!Array.isArray(mod.cases)) bad('exports no `cases` array');
  for (const name of ['setup', 'prepare', 'verify']) if (typeof mod[name] !== 'function') bad(`exports no ${name}() function`);
  if (mod.targets !== undefined && typeof mod.targets !== 'function') bad('`targets` is not a function');
  const ids = new Set();
  for (const c of mod.cases) {
    if (typeof c?.id !== 'string' || typeof c.table !== 'string' || typeof c.variant !== 'string') bad(`a case without string id, table and variant: ${JSON.stringify(c)}`);
    if (ids.has(c.id)) bad(`case id ${c.id} appears twice`);
    ids.add(c.id);
    const threads = c.threads ?? [1];
    if (!Array.isArray(threads) || threads.length === 0 || !threads.every((t) => Number.isInteger(t) && t >= 1 && t <= 64)) bad(`${c.id}: threads must be a list of integers 1..64`);
    if (c.chunk !== undefined && !(Number.isInteger(c.chunk) && c.chunk >= 1)) bad(`${c.id}: chunk must be a positive integer`);
    if (c.mixThreads !== undefined && c.mixThreads !== true) bad(`${c.id}: mixThreads must be true or absent`);
    if (c.blocks !== undefined && c.blocks !== true) bad(`${c.id}: blocks must be true or absent`);
    if (c.mixThreads && threads.length !== 1) bad(`${c.id}: a mixThreads case has exactly one thread count`);
    if (c.units !== undefined && !(Number.isInteger(c.units) && c.units >= 1 && typeof c.unit === 'string')) bad(`${c.id}: units must be a positive integer, with a unit name`);
  }
  // A table's variants either all share one group (mixThreads) or are grouped by thread count.
  const mixed = new Map();
  for (const c of mod.cases) {
    if (mixed.has(c.table) && mixed.get(c.table) !== (c.mixThreads === true)) bad(`table "${c.table}": mixThreads must be set on all of its cases or on none`);
    mixed.set(c.table, c.mixThreads === true);
  }
  for (const p of mod.physics ?? []) {
    if (!ids.has(p.id) || !ids.has(p.floor)) bad(`physics entry "${p.name}" names a case this module does not have`);
  }
}

/** Throws a clear error for options the method does not allow. */
export function checkOptions(o) {
  const need = (ok, what) => {
    if (!ok) throw new Error(`bench: ${what}`);
  };
  need(Number.isInteger(o.reps) && o.reps >= 5, `reps must be an integer ≥ 5 (got ${o.reps})`);
  need(Number.isFinite(o.roundMs) && o.roundMs > 0, `roundMs must be a positive number (got ${o.roundMs})`);
  need(Number.isFinite(o.warmMs) && o.warmMs >= 0, `warmMs must be a number ≥ 0 (got ${o.warmMs})`);
  need(Number.isInteger(o.maxRedo) && o.maxRedo >= 0, `maxRedo must be an integer ≥ 0 (got ${o.maxRedo})`);
  need(o.minOverlap > 0 && o.minOverlap <= 1, `minOverlap must be in (0, 1] (got ${o.minOverlap})`);
  need(Number.isInteger(o.minClean) && o.minClean >= 1 && o.minClean <= o.reps, `minClean must be an integer in 1..reps (got ${o.minClean})`);
}

/** Groups (table x thread count) in file order, then table order, then thread count. */
export function planGroups(loaded, only) {
  const groups = new Map();
  for (const { file, mod } of loaded) {
    for (const c of mod.cases) {
      if (only && !c.id.includes(only) && !c.table.includes(only)) continue;
      for (const t of c.threads ?? [1]) {
        // A mixThreads table is one group whatever its variants' thread counts.
        const key = c.mixThreads ? `${c.table}\u0000mixed` : `${c.table}\u0000${t}`;
        if (!groups.has(key)) groups.set(key, { table: c.table, threads: t, mixedThreads: c.mixThreads === true, entries: [] });
        const g = groups.get(key);
        g.threads = Math.max(g.threads, t);
        g.entries.push({ file, mod, c, threads: t });
      }
    }
  }
  // Keep each table's thread counts together, in ascending order.
  const list = [...groups.values()];
  const tableOrder = [...new Set(list.map((g) => g.table))];
  return list.sort((a, b) => tableOrder.indexOf(a.table) - tableOrder.indexOf(b.table) || a.threads - b.threads);
}

/** Per-repetition ratio of `id` to `floorId` within one group: min/median/max. */
export function ratioRange(group, id, floorId, countMarked = true) {
  const a = group.variants.find((v) => v.id === id);
  const b = group.variants.find((v) => v.id === floorId);
  if (!a || !b) return undefined;
  const ratios = [];
  a.reps.forEach((r, k) => {
    const f = b.reps[k];
    if (r && f && (countMarked || (!r.marked && !f.marked))) ratios.push(r.nsPerOp / f.nsPerOp);
  });
  return summarize(ratios);
}

export async function runBench({ files = caseFiles(), only = '', quick = false, overrides = {}, log = () => {} } = {}) {
  const opts = { ...(quick ? QUICK : FULL), ...overrides };
  checkOptions(opts);
  const started = Date.now();
  const loaded = [];
  for (const file of files) {
    const mod = await import(file);
    checkModule(file, mod);
    loaded.push({ file, mod });
  }
  const plan = planGroups(loaded, only);
  if (plan.length === 0) throw new Error(`bench: no case or table matches "${only}"`);
  const groups = [];
  for (const g of plan) {
    const tc = g.mixedThreads ? `${[...new Set(g.entries.map((e) => e.threads))].join(', ')} threads` : `${g.threads} thread${g.threads > 1 ? 's' : ''}`;
    log(`${g.table} | ${tc} | ${g.entries.length} variants`);
    const res = await runGroup(g.entries, g.threads, opts);
    for (const v of res.variants) {
      v.ns = summarize(v.reps.map((r) => r.nsPerOp));
      const base = res.variants.find((b) => b.baseline);
      if (base) v.vsBaseline = ratioRange(res, v.id, base.id);
    }
    groups.push(res);
    const c = res.counts;
    log(
      `  ${c.rounds} rounds: ${c.notOverlapped} without overlap, ${c.disturbed} disturbed, ${c.marked} kept marked; ` +
        `others used ${res.context.othersCpus.toFixed(2)} CPUs`,
    );
  }
  const modules = loaded.map((l) => l.mod);
  const physics = [];
  for (const { mod } of loaded) {
    for (const p of mod.physics ?? []) {
      const g = groups.find((x) => x.variants.some((v) => v.id === p.id) && x.variants.some((v) => v.id === p.floor));
      if (!g) continue;
      const op = g.variants.find((v) => v.id === p.id);
      const floor = g.variants.find((v) => v.id === p.floor);
      physics.push({ ...p, threads: g.threads, opVariant: op.variant, floorVariant: floor.variant, opNs: op.ns, floorNs: floor.ns, ratio: ratioRange(g, p.id, p.floor) });
    }
  }
  const totals = groups.reduce(
    (s, g) => {
      for (const k of Object.keys(s.counts)) s.counts[k] += g.counts[k];
      s.markedReps += g.variants.reduce((n, v) => n + v.reps.filter((r) => r.marked).length, 0);
      return s;
    },
    { counts: { rounds: 0, warmup: 0, notOverlapped: 0, disturbed: 0, marked: 0 }, markedReps: 0 },
  );
  return {
    version: 2,
    date: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    quick,
    only: only || undefined,
    options: opts,
    groups,
    physics,
    verdicts: verdicts(groups, modules, opts.reps, opts.minClean),
    interference: {
      ...totals.counts,
      othersCpus: groups.length ? Math.max(...groups.map((g) => g.context.othersCpus)) : 0,
      meanOthersCpus: groups.length ? groups.reduce((s, g) => s + g.context.othersCpus, 0) / groups.length : 0,
      stealMs: groups.reduce((s, g) => s + g.context.stealMs, 0),
      blindRounds: groups.reduce((s, g) => s + g.context.blindRounds, 0),
    },
  };
}
