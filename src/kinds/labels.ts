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

/**
 * The labels a metric with label names `T` takes, as prom-client types them: with literal
 * label names (`labelNames: ['route', 'code']`, inferred from the array literal, or a
 * `readonly` tuple `as const`) an object literal naming any other label does not compile;
 * a misspelt name is caught by the compiler, not by the first scrape. The names stay
 * optional in the type, as in prom-client, so that label objects typed for prom-client
 * and startTimer's labels split between its start and its end keep compiling; at run time
 * a call must still give every label name (InvalidLabelsError otherwise). Without literal
 * names (`T` = string: names from a `string[]`, or none) any names are accepted, as
 * {@link Labels}.
 */
export type LabelValues<T extends string = string> = { readonly [K in T]?: string | number };

const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;

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
 *
 * The labels are the object's own enumerable properties -- what `{ ...labels }` copies,
 * and what LabelTree.find counts -- so an inherited property is neither a label nor a
 * stray one: the same object gets the same answer on the slow path and the cached one.
 */
export function checkLabels(metric: string, sorted: readonly string[], labels: unknown): string[] {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidLabelsError(metric, `labels must be an object with the label names ${sorted.join(', ')}`);
  }
  const missing = sorted.filter((n) => !isEnumerable.call(labels, n));
  const stray: string[] = [];
  for (const k in labels) if (hasOwn.call(labels, k) && !sorted.includes(k)) stray.push(k);
  if (missing.length > 0 || stray.length > 0) throw new InvalidLabelsError(metric, mismatch(labels, sorted, missing, stray));
  return sorted.map((n) => labelValue(metric, n, (labels as Record<string, unknown>)[n]));
}

/** Names every stray label and every missing one, so that a misspelt name is seen as such. */
function mismatch(labels: object, sorted: readonly string[], missing: readonly string[], stray: readonly string[]): string {
  const list = (xs: readonly string[]) => xs.map((x) => JSON.stringify(x)).join(', ');
  const parts: string[] = [];
  if (stray.length > 0) parts.push(`unknown label${stray.length > 1 ? 's' : ''} ${list(stray)}`);
  if (missing.length > 0) {
    // A value the object does offer under that name, but from its prototype (or hidden).
    const unread = missing.filter((n) => {
      const v = (labels as Record<string, unknown>)[n];
      return typeof v === 'string' || typeof v === 'number';
    });
    const why = unread.length > 0 ? ` (${list(unread)}: inherited or non-enumerable; labels are the object's own enumerable properties)` : '';
    parts.push(`missing label${missing.length > 1 ? 's' : ''} ${list(missing)}${why}`);
  }
  return `${parts.join('; ')} (label names: ${sorted.join(', ')})`;
}

/**
 * A label value as stored: a string as it is, a number through String(). A string with a
 * lone surrogate has no UTF-8 form (encoding turns it into U+FFFD), so its series name
 * would be another series' name in the directory: it is refused like such an entry name.
 */
export function labelValue(metric: string, name: string, v: unknown): string {
  if (typeof v === 'string') {
    if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new InvalidOptionsError('labels', `metric "${metric}": the value of label "${name}" must be well-formed UTF-16 (no lone surrogates), got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (typeof v === 'number') return String(v);
  throw new InvalidLabelsError(metric, `label "${name}" must be a string or a number, got ${v === null ? 'null' : typeof v}`);
}

/**
 * A thread's cache of series by label values: nested Maps, one level per sorted label
 * name. `find` is the hot path (`inc(labels, n)`): one Map.get per label and a walk of the
 * object's keys, with no allocation. It returns undefined for anything it cannot answer
 * at once -- a new label set, a number value, a missing, extra or inherited key -- and
 * the caller takes the slow path, which checks fully and explains.
 *
 * It must accept exactly what checkLabels accepts: the own enumerable properties are the
 * label names. Reading `labels[name]` alone would also find a name on the prototype (an
 * object made with Object.create, a class getter), so the key walk proves the set: every
 * key for-in lists (it lists inherited enumerable keys too) is own and one of the names,
 * and there are as many as names. Distinct keys, all names, as many: the keys are the
 * names, each own and enumerable, and each `labels[name]` above read the object's own
 * property.
 *
 * Cost. `labels.hasOwnProperty(k)` with the for-in key is compiled by V8 to a check of
 * the object's map, nearly free; `hasOwn.call(labels, k)` and `Object.hasOwn` are real
 * calls (about 10 ns more per inc(labels), measured). So the method is called on the
 * object, once it is known to be the genuine one: an object without it (a null
 * prototype) or with its own (a label named `hasOwnProperty`) takes the slow path. `order`
 * remembers the key order last seen, so that the membership test is one comparison a key
 * while callers keep building their label objects the same way.
 */
export class LabelTree<C> {
  private readonly root = new Map<string, unknown>();
  private readonly order: string[];
  constructor(private readonly sorted: readonly string[]) {
    this.order = [...sorted];
  }

  find(labels: object): C | undefined {
    const names = this.sorted;
    const n = names.length;
    let node = this.root;
    let next: unknown;
    for (let i = 0; i < n; i++) {
      const v = (labels as Record<string, unknown>)[names[i]!];
      // Numbers are label values too (prom-client's `code: 200`); V8 caches small ones' strings.
      const key = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
      if (key === undefined) return undefined;
      next = node.get(key);
      if (next === undefined) return undefined;
      node = next as Map<string, unknown>;
    }
    if ((labels as { hasOwnProperty?: unknown }).hasOwnProperty !== hasOwn) return undefined;
    const order = this.order;
    let keys = 0;
    for (const k in labels) {
      if (keys === n || !labels.hasOwnProperty(k)) return undefined;
      if (order[keys] !== k) {
        if (!names.includes(k)) return undefined;
        order[keys] = k; // only ever a name, so a match above proves membership
      }
      keys++;
    }
    return keys === n ? (next as C) : undefined;
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

  /**
   * The label values (sorted-name order) of each series of `wanted` cached here, in one
   * walk of every level: slow, for the rare paths that need them (metric-base.ts keeps no
   * copy of its children's values, so that a cached series costs its thread less).
   */
  valuesOf(wanted: ReadonlySet<C>): Map<C, readonly string[]> {
    const out = new Map<C, readonly string[]>();
    const depth = this.sorted.length;
    const path: string[] = [];
    const walk = (node: Map<string, unknown>): void => {
      const last = path.length === depth - 1;
      for (const [value, next] of node) {
        path.push(value);
        if (!last) walk(next as Map<string, unknown>);
        else if (wanted.has(next as C)) out.set(next as C, [...path]);
        path.pop();
        if (out.size === wanted.size) return;
      }
    };
    if (depth > 0 && wanted.size > 0) walk(this.root);
    return out;
  }

  /**
   * Forgets the series of `values` (already checked, sorted-name order), and every level
   * left empty by it: a label value that comes and goes (a tenant) leaves no empty Map
   * behind in each thread that cached it.
   */
  delete(values: readonly string[]): void {
    const path: Map<string, unknown>[] = [this.root];
    for (let i = 0; i < values.length - 1; i++) {
      const n = path[i]!.get(values[i]!) as Map<string, unknown> | undefined;
      if (n === undefined) return;
      path.push(n);
    }
    path[values.length - 1]!.delete(values[values.length - 1]!);
    for (let i = values.length - 1; i > 0 && path[i]!.size === 0; i--) path[i - 1]!.delete(values[i - 1]!);
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
