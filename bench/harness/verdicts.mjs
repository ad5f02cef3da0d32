// Targets and verdicts. A case module's targets(results) is a pure function of one set
// of ns/op figures; the harness calls it once per repetition, with every row's `median`
// set to that repetition's figure, so each ratio it computes is a same-run ratio. The
// verdict then comes from all repetitions together:
//   met           every counted repetition passes,
//   missed        none does,
//   inconclusive  some pass and some do not (the ratio's min..max range crosses the
//                 threshold), or fewer than minClean repetitions were free of
//                 interference (rows read by the target from a marked round are not
//                 counted).
import { summarize } from './stats.mjs';

/**
 * Rows for repetition `rep`, whose `median`/`ns` getters record which rows a target read,
 * so that a target is known to depend on a marked round only when it really does.
 */
export function repetitionRows(groups, rep, touched) {
  const rows = [];
  for (const g of groups) {
    for (const v of g.variants) {
      const r = v.reps[rep];
      if (!r) continue;
      const row = { id: v.id, table: g.table, variant: v.variant, baseline: v.baseline, threads: v.threads ?? g.threads, kind: 'threads' };
      const read = () => {
        if (r.marked) touched.marked = true;
        return r.nsPerOp;
      };
      Object.defineProperty(row, 'median', { get: read, enumerable: true });
      Object.defineProperty(row, 'ns', { get: read, enumerable: true });
      rows.push(row);
    }
  }
  return rows;
}

/** Per-repetition target outcomes ({name, pass, value?, measured, target, marked}), grouped by name. */
export function collectTargets(groups, modules, reps) {
  const byName = new Map();
  for (let rep = 0; rep < reps; rep++) {
    for (const mod of modules) {
      if (typeof mod.targets !== 'function') continue;
      // Each target reads its own rows: evaluate the whole list once to learn the names,
      // then once per target so the marked flag belongs to that target alone.
      const probe = mod.targets(repetitionRows(groups, rep, {}));
      probe.forEach((_, k) => {
        const touched = { marked: false };
        const t = mod.targets(repetitionRows(groups, rep, touched))[k];
        if (!t) return;
        if (!byName.has(t.name)) byName.set(t.name, []);
        byName.get(t.name).push({ ...t, marked: touched.marked, rep });
      });
    }
  }
  return byName;
}

export function verdictOf(outcomes, minClean) {
  const clean = outcomes.filter((o) => !o.marked);
  const passed = clean.filter((o) => o.pass).length;
  let verdict;
  let why;
  if (clean.length < minClean) {
    verdict = 'inconclusive';
    why = `only ${clean.length} of ${outcomes.length} repetitions free of interference`;
  } else if (passed === clean.length) verdict = 'met';
  else if (passed === 0) verdict = 'missed';
  else {
    verdict = 'inconclusive';
    why = `range crosses the threshold (${passed} of ${clean.length} repetitions pass)`;
  }
  const counted = clean.length >= minClean ? clean : outcomes;
  const values = counted.map((o) => o.value).filter((x) => typeof x === 'number');
  const range = values.length ? summarize(values) : undefined;
  // Without a numeric value, show what the median repetition said.
  const mid = counted[Math.floor((counted.length - 1) / 2)];
  return {
    name: outcomes[0].name,
    target: outcomes[0].target,
    verdict,
    why,
    range,
    measured: mid?.measured,
    repetitions: outcomes.length,
    marked: outcomes.length - clean.length,
    passed,
  };
}

export function verdicts(groups, modules, reps, minClean) {
  return [...collectTargets(groups, modules, reps).values()].map((o) => verdictOf(o, minClean));
}
