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
 * A thread's cache of series by label values: nested Maps, one level per label name (in
 * sorted order, until the tree finds an order that takes fewer Maps: see rebalance).
 * `find` is the hot path (`inc(labels, n)`): one Map.get per label and a walk of the
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
  private root = new Map<string, unknown>();
  // The label names in the order of the tree's levels (the first level is keyed by the
  // value of names[0]), and for each level the position of its name in `sorted`, the order
  // in which every method but find takes values. See rebalance.
  private names: readonly string[];
  private perm: readonly number[];
  private readonly order: string[];
  // Series cached, Maps below the root, and the series count at which the level order is
  // looked at again (it doubles each time: log n looks, O(n) work in all).
  private leaves = 0;
  private maps = 0;
  private review = 64;
  constructor(private readonly sorted: readonly string[]) {
    this.names = sorted;
    this.perm = sorted.map((_, i) => i);
    this.order = [...sorted];
  }

  find(labels: object): C | undefined {
    const names = this.names;
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
    const perm = this.perm;
    let node: unknown = this.root;
    for (let i = 0; i < perm.length; i++) {
      node = (node as Map<string, unknown>).get(values[perm[i]!]!);
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
    if (wanted.size > 0) {
      this.walk((values, child) => {
        if (wanted.has(child)) out.set(child, values());
        return out.size < wanted.size;
      });
    }
    return out;
  }

  /** Every series cached here (slow: the rare paths that visit each child). */
  children(): C[] {
    const out: C[] = [];
    this.walk((_, child) => {
      out.push(child);
      return true;
    });
    return out;
  }

  /**
   * Forgets the series of `values` (already checked, sorted-name order), and every level
   * left empty by it: a label value that comes and goes (a tenant) leaves no empty Map
   * behind in each thread that cached it.
   */
  delete(values: readonly string[]): void {
    const perm = this.perm;
    const depth = perm.length;
    const path: Map<string, unknown>[] = [this.root];
    for (let i = 0; i < depth - 1; i++) {
      const n = path[i]!.get(values[perm[i]!]!) as Map<string, unknown> | undefined;
      if (n === undefined) return;
      path.push(n);
    }
    if (!path[depth - 1]!.delete(values[perm[depth - 1]!]!)) return;
    this.leaves--;
    for (let i = depth - 1; i > 0 && path[i]!.size === 0; i--) {
      path[i - 1]!.delete(values[perm[i - 1]!]!);
      this.maps--;
    }
  }

  /** Caches `child` as the series of `values` (already checked, sorted-name order). */
  insert(values: readonly string[], child: C): void {
    const perm = this.perm;
    const depth = perm.length;
    let node = this.root;
    for (let i = 0; i < depth - 1; i++) {
      const v = values[perm[i]!]!;
      let n = node.get(v) as Map<string, unknown> | undefined;
      if (n === undefined) {
        node.set(v, (n = new Map()));
        this.maps++;
      }
      node = n;
    }
    const leaf = values[perm[depth - 1]!]!;
    if (!node.has(leaf)) this.leaves++;
    node.set(leaf, child);
    if (this.leaves >= this.review) {
      this.review = 2 * this.leaves;
      this.rebalance();
    }
  }

  /**
   * Each value of a level's label that has series below it costs a Map (about 180 bytes
   * in each thread) at the next level, so a label with one value per series at the top
   * costs that much per series: with labels `path` and `status`, sorted-name order
   * puts `path` first. When the Maps below the root outnumber half the series, the
   * levels are put in the order of the labels' distinct values, fewest first, and the tree
   * is built again. The children are the same objects; only find's name order changes,
   * which costs it nothing.
   */
  private rebalance(): void {
    const depth = this.perm.length;
    if (depth < 2 || 2 * this.maps <= this.leaves) return;
    const entries: [string[], C][] = [];
    this.walk((values, child) => {
      entries.push([values(), child]);
      return true;
    });
    const distinct = this.sorted.map((_, k) => new Set(entries.map(([v]) => v[k])).size);
    const perm = this.sorted.map((_, k) => k).sort((a, b) => distinct[a]! - distinct[b]! || a - b);
    if (perm.every((k, i) => k === this.perm[i])) return;
    this.perm = perm;
    this.names = perm.map((k) => this.sorted[k]!);
    this.root = new Map();
    this.leaves = 0;
    this.maps = 0;
    for (const [values, child] of entries) this.insert(values, child);
  }

  // Calls `f` with each series cached here and a function making its label values
  // (sorted-name order), while `f` returns true.
  private walk(f: (values: () => string[], child: C) => boolean): void {
    const perm = this.perm;
    const depth = perm.length;
    const path: string[] = [];
    const values = (): string[] => {
      const v = new Array<string>(depth);
      for (let i = 0; i < depth; i++) v[perm[i]!] = path[i]!;
      return v;
    };
    const down = (node: Map<string, unknown>): boolean => {
      const last = path.length === depth - 1;
      for (const [value, next] of node) {
        path.push(value);
        const more = last ? f(values, next as C) : down(next as Map<string, unknown>);
        path.pop();
        if (!more) return false;
      }
      return true;
    };
    if (depth > 0) down(this.root);
  }
}
