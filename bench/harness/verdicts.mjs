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
 * Rows for repetition `rep`, whose `median`/`ns` getters record in `touched` whether a
 * marked round was read; with `poison`, a marked round reads as NaN (see collectTargets).
 */
export function repetitionRows(groups, rep, touched, poison = false) {
  const rows = [];
  for (const g of groups) {
    for (const v of g.variants) {
      const r = v.reps[rep];
      if (!r) continue;
      const row = { id: v.id, table: g.table, variant: v.variant, baseline: v.baseline, threads: v.threads ?? g.threads, kind: 'threads' };
      const read = () => {
        if (r.marked) touched.marked = true;
        return poison && r.marked ? NaN : r.nsPerOp;
      };
      Object.defineProperty(row, 'median', { get: read, enumerable: true });
      Object.defineProperty(row, 'ns', { get: read, enumerable: true });
      rows.push(row);
    }
  }
  return rows;
}

/**
 * Per-repetition target outcomes ({name, pass, value?, measured, target, marked}), grouped
 * by name. A module's targets() computes all its targets in one call and reads rows of
 * every table and thread count it covers, so which rows one target used cannot be told
 * from the reads. Instead targets() runs twice per repetition, the second time with every
 * marked round reading as NaN: a target depends on a marked round exactly when its
 * outcome changes (NaN spreads through every ratio, and a target left out for a missing
 * figure is missing from the second list).
 */
export function collectTargets(groups, modules, reps) {
  const byName = new Map();
  for (let rep = 0; rep < reps; rep++) {
    for (const mod of modules) {
      if (typeof mod.targets !== 'function') continue;
      const plain = mod.targets(repetitionRows(groups, rep, { marked: false }));
      const poisoned = new Map(mod.targets(repetitionRows(groups, rep, { marked: false }, true)).map((t) => [t.name, t]));
      for (const t of plain) {
        const p = poisoned.get(t.name);
        const marked = p === undefined || p.pass !== t.pass || p.measured !== t.measured || !Object.is(p.value, t.value);
        if (!byName.has(t.name)) byName.set(t.name, []);
        byName.get(t.name).push({ ...t, marked, rep });
      }
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
