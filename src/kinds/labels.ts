/*
 * Metric and label names, and the canonical key of a label set.
 *
 * A labelled series lives in the registry's shared directory under a name made from its
 * family and its labels: `family{a="x",b="y"}`, label names sorted, values escaped as in
 * the Prometheus text format (\\, \", \n). The directory compares names byte for byte,
 * so every thread that asks for the same labels, in whatever key order, reaches the same
 * record, and two different label sets can never share one (the escaping makes the
 * encoding injective; prom-client's LabelMap.keyFrom builds its key the same way: sorted
 * names, joined values).
 *
 * Building that name costs a sort, an escape and a UTF-8 encode, so each thread does it
 * once per series: after that a lookup walks a tree of Maps, one level per label name
 * (sorted), keyed by the label's value (LabelTree), with no string building at all.
 */
import { InvalidOptionsError } from '../errors.js';
import { InvalidLabelsError } from './errors.js';

/** Prometheus' metric-name rule. */
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Prometheus' label-name rule; names starting with `__` are reserved for Prometheus itself. */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prefix of the package's own families: user metrics may not use it, so they never merge into one. */
export const RESERVED_PREFIX = 'atomic_stats_';
/** Most label names per metric. */
export const MAX_LABEL_NAMES = 16;
/** Longest metric name, in characters (ASCII by the name rule), leaving room for label values in series names. */
export const MAX_METRIC_NAME = 128;

export function checkMetricName(name: unknown): string {
  if (typeof name !== 'string') throw new InvalidOptionsError('name', 'must be a string');
  if (!METRIC_NAME_RE.test(name)) {
    throw new InvalidOptionsError('name', `${JSON.stringify(name)} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  }
  if (name.length > MAX_METRIC_NAME) throw new InvalidOptionsError('name', `must be at most ${MAX_METRIC_NAME} characters`);
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new InvalidOptionsError('name', `names starting with "${RESERVED_PREFIX}" are reserved for the package's own metrics`);
  }
  return name;
}

export function checkHelp(help: unknown): string {
  if (typeof help !== 'string' || help.length === 0) throw new InvalidOptionsError('help', 'must be a non-empty string');
  if (help.length > 1024) throw new InvalidOptionsError('help', 'must be at most 1024 characters');
  return help;
}

/** Checks `labelNames` (default none): valid, distinct, not reserved (`__*`, plus `reserved`). */
export function checkLabelNames(value: unknown, reserved: readonly string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidOptionsError('labelNames', 'must be an array of label names');
  if (value.length > MAX_LABEL_NAMES) throw new InvalidOptionsError('labelNames', `at most ${MAX_LABEL_NAMES} label names, got ${value.length}`);
  const seen = new Set<string>();
  for (const n of value) {
    if (typeof n !== 'string' || !LABEL_NAME_RE.test(n) || n.length > 64) {
      throw new InvalidOptionsError('labelNames', `${JSON.stringify(n)} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, at most 64)`);
    }
    if (n.startsWith('__')) throw new InvalidOptionsError('labelNames', `${JSON.stringify(n)}: label names starting with "__" are reserved`);
    if (reserved.includes(n)) throw new InvalidOptionsError('labelNames', `${JSON.stringify(n)} is reserved on this kind of metric`);
    if (seen.has(n)) throw new InvalidOptionsError('labelNames', `duplicate label name ${JSON.stringify(n)}`);
    seen.add(n);
  }
  return value as string[];
}

export type Labels = Readonly<Record<string, string | number>>;

const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The directory name of a series: `family{a="x",b="y"}` with `sorted` label names. */
export function seriesName(family: string, sorted: readonly string[], values: readonly string[]): string {
  let s = `${family}{`;
  for (let i = 0; i < sorted.length; i++) s += `${i === 0 ? '' : ','}${sorted[i]}="${escapeValue(values[i]!)}"`;
  return `${s}}`;
}

/**
 * Full check of a labels object against a metric's label names (the slow path, run when
 * a thread meets a label set for the first time, and to explain a fast-path miss):
 * exactly the label names, each value a string or a number (numbers are converted with
 * String(), as prom-client does). Returns the values in `sorted` order.
 */
export function checkLabels(metric: string, sorted: readonly string[], labels: unknown): string[] {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidLabelsError(metric, `labels must be an object with the label names ${sorted.join(', ')}`);
  }
  const values: string[] = [];
  for (const n of sorted) {
    if (!Object.prototype.hasOwnProperty.call(labels, n)) throw new InvalidLabelsError(metric, `missing label "${n}" (label names: ${sorted.join(', ')})`);
    values.push(labelValue(metric, n, (labels as Record<string, unknown>)[n]));
  }
  for (const k in labels) {
    if (!sorted.includes(k)) throw new InvalidLabelsError(metric, `unknown label "${k}" (label names: ${sorted.join(', ')})`);
  }
  return values;
}

export function labelValue(metric: string, name: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new InvalidLabelsError(metric, `label "${name}" must be a string or a number, got ${v === null ? 'null' : typeof v}`);
}

/**
 * A thread's cache of series by label values: nested Maps, one level per sorted label
 * name. `find` is the hot path (`inc(labels, n)`): one Map.get per label and a count of
 * the object's keys, with no allocation. It returns undefined for anything it cannot
 * answer at once -- a new label set, a number value, a missing or extra key -- and the
 * caller takes the slow path, which checks fully and explains.
 */
export class LabelTree<C> {
  private readonly root = new Map<string, unknown>();
  constructor(private readonly sorted: readonly string[]) {}

  find(labels: object): C | undefined {
    const names = this.sorted;
    let node = this.root;
    let next: unknown;
    for (let i = 0; i < names.length; i++) {
      const v = (labels as Record<string, unknown>)[names[i]!];
      // Numbers are label values too (prom-client's `code: 200`); V8 caches small ones' strings.
      const key = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
      if (key === undefined) return undefined;
      next = node.get(key);
      if (next === undefined) return undefined;
      node = next as Map<string, unknown>;
    }
    // Exactly the label names: every one was found above, so the object has no other key
    // when it has as many. (for-in: no array is allocated for the count.)
    let keys = 0;
    for (const _ in labels) keys++;
    return keys === names.length ? (next as C) : undefined;
  }

  /** The series for label values already checked and in sorted-name order. */
  findValues(values: readonly string[]): C | undefined {
    let node: unknown = this.root;
    for (let i = 0; i < values.length; i++) {
      node = (node as Map<string, unknown>).get(values[i]!);
      if (node === undefined) return undefined;
    }
    return node as C;
  }

  /** Calls `f` on every series cached here (slow: a walk of every level). */
  forEach(f: (child: C) => void): void {
    const walk = (node: Map<string, unknown>, depth: number): void => {
      for (const next of node.values()) {
        if (depth === this.sorted.length - 1) f(next as C);
        else walk(next as Map<string, unknown>, depth + 1);
      }
    };
    if (this.sorted.length > 0) walk(this.root, 0);
  }

  insert(values: readonly string[], child: C): void {
    let node = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      let n = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (n === undefined) node.set(values[i]!, (n = new Map()));
      node = n;
    }
    node.set(values[values.length - 1]!, child);
  }
}
