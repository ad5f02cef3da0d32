// Where a bench run is written, under bench/results/. The repository keeps one run: the
// latest full run, latest.json (the raw run) and latest.md (its tables), which
// docs/benchmarks.md, the README summary and docs/bench.svg are rendered from. Everything
// else a run writes is raw material for the machine that made it and goes to
// bench/results/local/, which git ignores: a raw run is about 450 kB of JSON, and
// committing every one of them grew the repository by megabytes of numbers nobody cites.

/** The files of bench/results/ that the repository holds. */
export const KEPT = ['latest.json', 'latest.md'];

/** The folder (under bench/results/) for every other run; .gitignore lists it. */
export const LOCAL = 'local/';

/**
 * The runtime the published run is taken on (a name of test/runtimes/runtimes.json; bench
 * --runtime): a full run elsewhere is raw material, local/latest-NAME.*.
 */
export const README_RUNTIME = 'node24';

/**
 * What a run writes: `names` are paths under bench/results/ without the extension (each
 * gets a .json and a .md), `publish` says whether it also redraws the chart and the
 * docs' tables. A full run (not quick, no --only, no --out) is the published one: it
 * becomes latest.* and leaves a copy in local/ named after its start time, so earlier
 * runs stay at hand for comparison. --out NAME writes local/NAME.*; a quick run
 * local/quick.*; an --only run without --out writes nothing. A full run on a runtime other
 * than README_RUNTIME is not published (local/latest-NAME.* and its dated copy), and a
 * quick one there writes local/quick-NAME.*.
 */
export function outputs({ quick = false, only = '', out, date, runtime = README_RUNTIME }) {
  if (out !== undefined) checkOutName(out);
  if (!quick && !only && out === undefined) {
    if (runtime === README_RUNTIME) return { names: ['latest', `${LOCAL}run-${stamp(date)}`], publish: true };
    return { names: [`${LOCAL}latest-${runtime}`, `${LOCAL}run-${stamp(date)}-${runtime}`], publish: false };
  }
  if (out !== undefined) return { names: [`${LOCAL}${out}`], publish: false };
  if (quick) return { names: [`${LOCAL}quick${runtime === 'host' || runtime === README_RUNTIME ? '' : `-${runtime}`}`], publish: false };
  return { names: [], publish: false };
}

/** --out's value: a plain file name, so a run cannot write outside local/. */
export function checkOutName(out) {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(out)) throw new Error(`bench: --out takes a file name (letters, digits, . _ -), got ${JSON.stringify(out)}`);
  return out;
}

// An ISO date as a file name: no ':' (Windows refuses it), to the second.
function stamp(date) {
  return date.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
}
