/*
 * What every metric kind (counter, gauge, histogram, summary) shares: its definition, its
 * labelled series, the cardinality bound, the per-thread cache of children, and remove /
 * reset / zero.
 *
 * Shared bytes of a family. The family is one directory record named as the user named
 * it, its signature the normalised definition (so the same definition from any thread is
 * the same metric and any other is a NameConflictError). Its data:
 *   unlabelled metric:  the one series' cells (the kind's layout), then the i32 count
 *                       word, 8-byte aligned after the cells;
 *   labelled metric:    its series table (series-table.ts), the count word first: the
 *                       series live in nodes the table allocates and reuses, found by
 *                       their label values, not in directory records.
 *
 * Cardinality. A label with unbounded values would fill the registry. The family's count
 * word bounds the series that exist at once (claims.ts: claims made under tickets that
 * name the claiming thread, so that a creator terminated in the middle of a create gives
 * its claim back without its own help). A series that already exists is reachable at
 * the limit too: the table is probed before anything is claimed, and probed once more
 * before a refusal, since the series it was about to create may have been created
 * meanwhile, by the very claim it waited for. Removing a series gives its unit back
 * (series-table.ts).
 *
 * Children, and what remove leaves behind. A thread's children are cached in its
 * LabelTree, and listed with the node each holds a reference on (see `children`). remove(), reset()
 * and zero() are prom-client's: remove drops a series (every thread's scrape stops showing
 * it at once), reset drops every labelled series and zeroes an unlabelled one (a summary's
 * reset zeroes its series and keeps them, as prom-client's does), zero makes a series
 * exist with zero values. A child cached by any thread keeps writing the removed node's
 * cells until its thread passes a quiescent point (quiescence.ts); series-table.ts says
 * why no write is lost or lands elsewhere. There the child is detached: its prototype is
 * swapped for one whose every method first re-binds it (the series is looked up or
 * created again, as prom-client's child does after remove, and the child takes the new
 * cells in place), so a reference the application holds keeps working.
 *
 * Zeroing in place. zero() and the reset of an unlabelled series (or of a summary's)
 * must not lose a write racing with them, nor subtract twice when two of them overlap,
 * and a striped series' owned stripes are written with plain stores by their owners only.
 * So each cell's shared cell is set to minus its stripes' total (zeroing.ts says why that
 * is exact), and a write that raced lands whole on one side of the zeroing. Each cell is
 * exact; the series as a whole is not a snapshot, so a histogram zeroed under concurrent
 * observations may keep a sum off by the observations in flight.
 */
import type { Kind, RegistryCore } from '../registry-core.js';
import { utf8 } from '../directory.js';
import { InvalidOptionsError, NameConflictError, describe } from '../errors.js';
import type { FamilyHead, FamilySink } from '../kind.js';
import { MAX_NAME_BYTES, alignUp } from '../layout.js';
import { bool, checkOptionsObject, intIn } from '../validate.js';
import type { Exemplar, MetricSample, MetricType } from '../family.js';
import { CardinalityLimitError, InvalidLabelsError } from './errors.js';
import { type LabelValues, type Labels, LabelTree, RESERVED_PREFIX, checkHelp, checkLabelNames, checkLabels, checkMetricName, seriesName } from './labels.js';
import { watchQuiescence } from './quiescence.js';
import { SeriesTable, blockFreeList, claimWords, encodeKey, hashKey, labelledFamilyBytes } from './series-table.js';
import type { AdaptiveCells } from './adaptive-cells.js';
import { CLAIM_WAIT_MS, Claims, reapTickets } from './claims.js';

/** Default bound on a metric's labelled series. */
export const DEFAULT_MAX_SERIES = 1000;
/** Largest `maxSeries` accepted (below 2^20: the claims field of the count word holds it). */
export const MAX_MAX_SERIES = 1_000_000;

/** The options every kind accepts. */
export interface MetricConfigurationBase<T extends string = string> {
  /** The exported name, exactly (Prometheus rules; not starting with `atomic_stats_`). */
  name: string;
  help: string;
  /**
   * Label names, in the order `labels('x', 'y')` takes values. Default none. Written as an
   * array literal (or a tuple `as const`), their literal types make the metric's label
   * objects checked by the compiler (see LabelValues).
   */
  labelNames?: readonly T[];
  /** Most label combinations (series) the metric may ever have, over all threads. Default 1000. */
  maxSeries?: number;
  /** The unit, as UCUM for OpenTelemetry (`'s'`, `'By'`, `'1'`). Default: from the name's suffix (`_seconds` → `'s'`, `_bytes` → `'By'`). */
  unit?: string;
}

/** The normalised definition; what the family record's signature holds (with its kind). */
export interface BaseDefinition {
  readonly name: string;
  readonly help: string;
  readonly labelNames: string[];
  readonly maxSeries: number;
  readonly unit?: string;
  /** A family of the package itself (named atomic_stats_*), never a user's. */
  readonly builtin?: true;
}

export const BASE_KEYS = ['name', 'help', 'labelNames', 'maxSeries', 'unit'] as const;

/**
 * Checks the options every kind shares. `internal` is the package's own path (built-in
 * families such as the step-duration histogram, and collect() re-opening a family from
 * its signature): it also accepts `builtin: true`, which makes a name under the reserved
 * `atomic_stats_` prefix legal (and required).
 */
export function defineBase(
  options: unknown,
  keys: readonly string[],
  reservedLabels: readonly string[],
  internal = false,
): { o: Record<string, unknown>; base: BaseDefinition } {
  const o = checkOptionsObject(options, internal ? [...keys, 'builtin'] : keys, 'options', { required: true });
  const builtin = internal && o.builtin === true;
  const name = builtin ? checkBuiltinName(o.name) : checkMetricName(o.name);
  const help = checkHelp(o.help);
  const labelNames = [...checkLabelNames(o.labelNames, reservedLabels)];
  const maxSeries = intIn(o, 'maxSeries', DEFAULT_MAX_SERIES, 1, MAX_MAX_SERIES);
  const base: BaseDefinition = builtin ? { name, help, labelNames, maxSeries, builtin: true } : { name, help, labelNames, maxSeries };
  if (o.unit !== undefined) {
    if (typeof o.unit !== 'string' || !/^[!-~]{1,63}$/.test(o.unit)) {
      throw new InvalidOptionsError('unit', 'must be 1..63 printable ASCII characters without spaces (UCUM, e.g. "s", "By", "1")');
    }
    return { o, base: { ...base, unit: o.unit } };
  }
  return { o, base };
}

function checkBuiltinName(name: unknown): string {
  if (typeof name !== 'string' || !name.startsWith(RESERVED_PREFIX) || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
    throw new InvalidOptionsError('name', `a built-in family's name starts with ${RESERVED_PREFIX}`);
  }
  return name;
}

export function checkBool(o: Record<string, unknown>, key: string): boolean {
  return bool(o, key, false);
}

/**
 * How a kind's series are striped: `true` always (a stripe per thread from the start),
 * `false` never (one shared cell per field), `'adaptive'` once threads contend on the
 * series (adaptive-cells.ts), the default.
 */
export type Striping = boolean | 'adaptive';

/** The `striped` option: omitted or `'adaptive'` is adaptive; otherwise a boolean. */
export function checkStriping(o: Record<string, unknown>): Striping {
  if (o.striped === undefined || o.striped === 'adaptive') return 'adaptive';
  if (typeof o.striped !== 'boolean') throw new InvalidOptionsError('striped', `must be a boolean or "adaptive", got ${describe(o.striped)}`);
  return o.striped;
}

/** The unit a family is exported with: the definition's, else one read from the name's suffix. */
export function unitOf(def: BaseDefinition, type: MetricType): string | undefined {
  if (def.unit !== undefined) return def.unit;
  const n = type === 'counter' && def.name.endsWith('_total') ? def.name.slice(0, -6) : def.name;
  if (n.endsWith('_seconds')) return 's';
  if (n.endsWith('_bytes')) return 'By';
  return undefined;
}

/** prom-client's MetricObject, as `get()` resolves it. */
export interface MetricObject {
  name: string;
  help: string;
  type: MetricType;
  values: MetricValue[];
  aggregator: 'sum';
}

export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** How a kind lays out and reads one series (given to Metric by each kind's open). */
export interface SeriesSpec<C> {
  /** Bytes of one series' cells. */
  readonly bytes: number;
  /** This thread's writer for the series whose cells start at `dataOffset`. */
  make(dataOffset: number): C;
  /** One read of the series at `dataOffset`, for collect() and get(). */
  read(dataOffset: number): MetricSample['value'];
  /** The series' tally: a counter's value, a histogram's or summary's count, a gauge's value (series-table.ts counts stale writes with it). */
  tally(dataOffset: number): number;
  /** Zeroes the series in place, losing no write that races with it (see the essay). */
  zero(dataOffset: number): void;
  /** True for gauges: a write after removal is a change, not an amount. */
  readonly changeOnly?: boolean;
  /** A counter's exemplar (kinds/exemplars.ts), when the definition enables them. */
  exemplar?(dataOffset: number): Exemplar | undefined;
  /** The contention-adaptive series' blocks (adaptive-cells.ts), when the series are adaptive. */
  readonly adaptive?: AdaptiveCells;
}

export { CLAIM_WAIT_MS };

const STALE_HELP =
  'Writes through a child of a removed series, made before its thread learned of the removal: increments (counters), observations (histograms, summaries) or changes (gauges). They are in no series.';

// Not `implements Quiescent`: quiesce and detachAll are internal, stripped from the published
// declarations, where the clause would not hold (the call to watchQuiescence checks the shape).
export abstract class Metric<C, T extends string = string> {
  readonly name: string;
  readonly help: string;
  /** Label names, in declaration order. */
  readonly labelNames: readonly T[];
  readonly maxSeries: number;
  abstract readonly type: MetricType;
  /** @internal */ protected readonly registry: RegistryCore;
  /** @internal */ protected readonly spec: SeriesSpec<C>;
  /** @internal */ readonly definition: BaseDefinition;
  private readonly sorted: readonly string[];
  // Positions of the declared label names in sorted order (positional values -> sorted).
  private readonly order: readonly number[];
  private readonly tree: LabelTree<C>;
  private readonly single: C | undefined;
  private readonly familyData: number;
  private readonly table: SeriesTable | undefined;
  private readonly claims: Claims | undefined;
  // The children this thread holds a node for are the tree's (one per label set) and the
  // strays: re-bound children a caller kept while the tree held another for their labels,
  // with the label values each re-binds to (the tree's children have theirs in the tree).
  // The node a child holds is found from its cells: they start `table.smallHead` bytes into
  // the node, unless the node's key made it a large one (series-table.ts), and those few
  // are kept in `largeNodes`. So a cached child costs its thread the tree's Map entry and
  // the child itself, nothing more: a list of children and their nodes cost 16 bytes more a
  // child in each thread that caches it, a Map to { node, values } records about 125.
  // Only slow paths need the list (a quiescent point after a removal, the thread's exit,
  // a stripe handed back), and each of those walks every child anyway.
  private readonly strays = new Map<C, readonly string[]>();
  private readonly largeNodes = new Map<C, number>();
  // Detached children (see the essay): the label values each re-binds to.
  private readonly detached = new WeakMap<object, readonly string[]>();
  private readonly detachedProtos = new Map<object, object>();
  // The removals word last seen (quiesce), and whether the timer watches this metric.
  private lastRemovals = 0;
  private watched = false;
  // Frozen label objects per node, for as long as the node's gen is the one they were read
  // at: that gen is in `labelGens` unless it is FIRST_GEN, the gen of every node never
  // reused (most of them), so a series costs a scraping thread one Map entry and its labels
  // object, where an entry and a { gen, labels } record cost 40 bytes more.
  private readonly labelCache = new Map<number, Readonly<Record<string, string>>>();
  private readonly labelGens = new Map<number, number>();

  /** @internal */
  constructor(registry: RegistryCore, def: BaseDefinition, familyData: number, spec: SeriesSpec<C>) {
    this.registry = registry;
    this.definition = def;
    this.name = def.name;
    this.help = def.help;
    this.labelNames = Object.freeze([...def.labelNames]) as readonly string[] as readonly T[];
    this.maxSeries = def.maxSeries;
    this.spec = spec;
    this.sorted = [...def.labelNames].sort();
    this.order = def.labelNames.map((n) => this.sorted.indexOf(n));
    this.tree = new LabelTree<C>(this.sorted);
    this.familyData = familyData;
    spec.adaptive?.bindFamily(def.labelNames.length === 0 ? familyData + familyCountOffset(def, spec.bytes) + 8 : blockFreeList(familyData));
    if (def.labelNames.length === 0) {
      this.single = spec.make(familyData);
      this.table = undefined;
      this.claims = undefined;
    } else {
      this.single = undefined;
      this.table = new SeriesTable(registry, def.name, familyData, def.maxSeries, {
        cellBytes: spec.bytes,
        tally: (at) => spec.tally(at),
        changeOnly: spec.changeOnly === true,
        reclaim: spec.adaptive === undefined ? undefined : (at) => spec.adaptive!.reclaim(at),
      });
      const { countIndex, ticket0 } = claimWords(familyData);
      this.claims = new Claims(registry.views.i32, countIndex, ticket0, def.maxSeries);
      this.lastRemovals = Atomics.load(registry.views.i32, this.table.removalsIndex);
    }
  }

  /**
   * The series for `labels` (`labels()` for a metric without label names), created in the
   * shared memory on first use by any thread and cached in this thread: keep it for hot
   * paths. prom-client's call shapes: `labels({a: 'x'})` or positional values in
   * `labelNames` order, `labels('x')`.
   */
  labels(labels: LabelValues<T>): C;
  labels(...values: (string | number)[]): C;
  labels(...args: unknown[]): C {
    if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) return this.series(args[0]);
    return this.series(this.positional(args));
  }

  /**
   * Removes the series of `labels` (an object, or the values in `labelNames` order), as
   * prom-client's remove does: no thread's scrape shows it any more, its maxSeries unit is
   * free at once, and its memory is reused once every thread that cached it has let go.
   * A child of it held by any thread keeps working: its next write after its thread has
   * learned of the removal creates the series again. Removing a series that does not
   * exist does nothing. On a metric without label names, `remove()` zeroes its one series.
   */
  remove(labels: LabelValues<T>): void;
  remove(...values: (string | number)[]): void;
  remove(...args: unknown[]): void {
    const values = this.valuesOf(args);
    if (this.table === undefined) {
      this.spec.zero(this.familyData);
      return;
    }
    this.quiesce();
    const key = encodeKey(values);
    const node = this.table.lookup(key, hashKey(key));
    if (node === 0) return;
    try {
      this.table.remove(node);
    } finally {
      this.table.release(node);
    }
    this.quiesce();
  }

  /**
   * prom-client's reset: every labelled series is removed (see remove), and a metric
   * without label names is zeroed.
   */
  reset(): void {
    if (this.table === undefined) {
      this.spec.zero(this.familyData);
      return;
    }
    this.quiesce();
    for (const node of this.table.liveNodes()) {
      try {
        this.table.remove(node);
      } finally {
        this.table.release(node);
      }
    }
    this.quiesce();
  }

  /**
   * Makes the series of `labels` exist with zero values (created if it does not, counted
   * against maxSeries like any new series), as prom-client's histogram `zero` does. A write
   * racing with it is either zeroed with the rest or kept, never lost half-way.
   */
  zero(labels?: LabelValues<T>): void;
  zero(...values: (string | number)[]): void;
  zero(...args: unknown[]): void {
    const values = this.valuesOf(args);
    const table = this.table;
    if (table === undefined) {
      this.spec.zero(this.familyData);
      return;
    }
    this.quiesce();
    const node = this.openNode(values);
    try {
      this.spec.zero(table.cells(node));
    } finally {
      table.release(node);
    }
  }

  /** @internal Zeroes every series in place, keeping them (a summary's reset). */
  protected zeroAll(): void {
    if (this.table === undefined) {
      this.spec.zero(this.familyData);
      return;
    }
    for (const node of this.table.liveNodes()) {
      try {
        this.spec.zero(this.table.cells(node));
      } finally {
        this.table.release(node);
      }
    }
  }

  /**
   * @internal The registry object that opened this metric is handing its stripe back
   * (close(), dispose, or its thread's exit): every series this thread has cached switches
   * to the shared stripe in place, so children held by callers keep counting, atomically
   * and exactly, while the stripe's next owner writes it with plain stores. Series made
   * after this are made shared (the kinds read the owned stripe at make time). Idempotent.
   */
  retireStripe(): void {
    if (this.single !== undefined) retireSeries(this.single);
    for (const child of this.held()) retireSeries(child);
  }

  /** Series that exist now, created by any thread and not removed (the shared count that maxSeries bounds). */
  seriesCount(): number {
    if (this.claims === undefined) return 1;
    this.settleOrphans();
    return this.claims.claims();
  }

  /**
   * @internal A quiescent point of this thread (quiescence.ts): when some series of the
   * family was removed since the last one, every child this thread caches whose series
   * is gone is detached and its node released. One load when nothing was removed.
   */
  quiesce(): void {
    const table = this.table;
    if (table === undefined) return;
    this.settleOrphans();
    const w = Atomics.load(this.registry.views.i32, table.removalsIndex);
    if (w === this.lastRemovals) return;
    this.lastRemovals = w;
    this.detachWhere((node) => !table.isLive(node));
  }

  /** @internal Detaches every cached child (this thread is exiting; quiescence.ts). */
  detachAll(): void {
    this.detachWhere(() => true);
  }

  /** @internal The hot lookup: this thread's cache first, then the slow path. */
  protected series(labels: unknown): C {
    if (this.single !== undefined) {
      if (labels === undefined) return this.single;
      return this.noLabels(labels);
    }
    if (typeof labels === 'object' && labels !== null) {
      const c = this.tree.find(labels);
      if (c !== undefined) return c;
    }
    return this.slowSeries(labels);
  }

  private noLabels(labels: unknown): C {
    if (typeof labels === 'object' && labels !== null && !Array.isArray(labels)) {
      // Own enumerable keys only, as for labelled metrics (labels.ts): inherited ones are not labels.
      let keys = 0;
      for (const k in labels) if (Object.prototype.hasOwnProperty.call(labels, k)) keys++;
      if (keys === 0) return this.single!;
    }
    throw new InvalidLabelsError(this.name, 'this metric has no label names; call it without labels');
  }

  private slowSeries(labels: unknown): C {
    if (labels === undefined) throw new InvalidLabelsError(this.name, `labels required: ${this.sorted.join(', ')}`);
    const values = checkLabels(this.name, this.sorted, labels);
    this.quiesce();
    return this.seriesOf(values);
  }

  // Positional label values (labelNames order) as a labels object.
  private positional(args: readonly unknown[]): Record<string, unknown> | undefined {
    if (args.length !== this.labelNames.length) {
      throw new InvalidLabelsError(this.name, `expected ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${args.length}`);
    }
    if (args.length === 0) return undefined;
    const o: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i++) o[this.labelNames[i]!] = args[i];
    return o;
  }

  // The checked label values (sorted-name order) of remove/zero's arguments.
  private valuesOf(args: readonly unknown[]): string[] {
    const labels = args.length === 1 && typeof args[0] === 'object' && args[0] !== null ? args[0] : this.positional(args);
    if (this.table === undefined) {
      if (labels !== undefined) this.noLabels(labels);
      return [];
    }
    if (labels === undefined) throw new InvalidLabelsError(this.name, `labels required: ${this.sorted.join(', ')}`);
    return checkLabels(this.name, this.sorted, labels);
  }

  // This thread's child for `values`, created (and cached) if need be.
  private seriesOf(values: readonly string[]): C {
    const known = this.tree.findValues(values);
    if (known !== undefined) return known;
    const node = this.openNode(values);
    const c = this.made(node);
    this.tree.insert(values, c);
    this.hold(c, node, undefined);
    return c;
  }

  // A writer of `node` (acquired by the caller, and released here if the kind throws).
  private made(node: number): C {
    try {
      return this.spec.make(this.table!.cells(node));
    } catch (e) {
      this.table!.release(node);
      throw e;
    }
  }

  // `strayValues`: the child's label values when the tree holds another child for them.
  private hold(child: C, node: number, strayValues: readonly string[] | undefined): void {
    if (cellsOf(child) !== node + this.table!.smallHead) this.largeNodes.set(child, node);
    if (strayValues !== undefined) this.strays.set(child, strayValues);
    if (!this.watched) {
      this.watched = true;
      watchQuiescence(this.registry, this);
    }
  }

  // The node of the series of `values`, acquired: found, or created under a claim.
  private openNode(values: readonly string[]): number {
    const table = this.table!;
    const name = seriesName(this.name, this.sorted, values);
    if (utf8(name).length > MAX_NAME_BYTES) {
      throw new InvalidLabelsError(this.name, `label values too long: the series name ${JSON.stringify(name.slice(0, 60))}... exceeds ${MAX_NAME_BYTES} UTF-8 bytes`);
    }
    const key = encodeKey(values);
    const hash = hashKey(key);
    const found = table.lookup(key, hash);
    if (found !== 0) return found;
    const claims = this.claims!;
    const k = claims.take(table);
    if (k < 0) {
      // Full, with nothing in flight; but the claim this thread waited for may have
      // created this very series.
      const again = table.lookup(key, hash);
      if (again === 0) throw new CardinalityLimitError(this.name, this.maxSeries);
      return again;
    }
    let made: { node: number; loser: number };
    try {
      made = table.insert(key, hash, (node) => claims.nodeOf(k, node));
    } catch (e) {
      claims.end(k, false);
      throw e;
    }
    // The unit now rides on a node (ours, or ours removed at once when another thread's
    // won): only the claim in flight ends here.
    claims.end(k, true);
    if (made.loser !== 0) table.release(made.loser);
    return made.node;
  }

  // Claims of creators that stopped in the middle of a create (claims.ts): one load when there are none.
  private settleOrphans(): void {
    const claims = this.claims;
    if (claims !== undefined && claims.inFlight()) claims.settleOrphans(this.table!);
  }

  // Every child this thread holds a node for: the tree's, then the strays.
  private held(): C[] {
    const out = this.table === undefined ? [] : this.tree.children();
    for (const c of this.strays.keys()) out.push(c);
    return out;
  }

  // The node `child` holds a reference on (see `strays`).
  private nodeOf(child: C): number {
    return this.largeNodes.get(child) ?? cellsOf(child) - this.table!.smallHead;
  }

  // Detaches every held child whose node is `gone` (its series was removed, or the thread
  // exits), and keeps the others. The label values of the children detached come from one
  // walk of the tree, made only when there is one to detach. A detach that throws (a
  // corrupt node) stops the walk: the children not visited stay held.
  private detachWhere(gone: (node: number) => boolean): void {
    if (this.table === undefined) return;
    const leaving = this.held().filter((child) => gone(this.nodeOf(child)));
    if (leaving.length === 0) return;
    const values = this.tree.valuesOf(new Set(leaving));
    for (const child of leaving) {
      // Every held child is the tree's or a stray; one that were neither would stay held
      // rather than be detached without the labels it re-binds to.
      const v = values.get(child) ?? this.strays.get(child);
      if (v !== undefined) this.detach(child, this.nodeOf(child), v);
    }
  }

  // Detaches `child` from `node`, its reference released last: see the essay.
  private detach(child: C, node: number, values: readonly string[]): void {
    if (this.tree.findValues(values) === child) this.tree.delete(values);
    this.strays.delete(child);
    this.largeNodes.delete(child);
    this.detached.set(child as object, values);
    Object.setPrototypeOf(child, this.detachedProto(Object.getPrototypeOf(child) as object));
    this.table!.release(node);
  }

  // A prototype whose every method re-binds the child first, then runs the method it had.
  private detachedProto(proto: object): object {
    let d = this.detachedProtos.get(proto);
    if (d !== undefined) return d;
    d = Object.create(proto) as object;
    const names = new Set<string>();
    for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
      for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(p, n)?.value === 'function') names.add(n);
    }
    const metric = this;
    for (const n of names) {
      Object.defineProperty(d, n, {
        value: function (this: C, ...args: unknown[]) {
          const c = metric.rebind(this) as Record<string, (...a: unknown[]) => unknown>;
          return c[n]!(...args);
        },
        writable: true,
        configurable: true,
      });
    }
    this.detachedProtos.set(proto, d);
    return d;
  }

  // A detached child takes the cells of its series as it is now (found or created again):
  // a writer made for the node the table has for its labels now, copied into the child in
  // place. The tree keeps the child it holds for those labels, if any (this one is then a
  // stray of the same node, holding its own reference).
  private rebind(child: C): C {
    const values = this.detached.get(child as object);
    if (values === undefined) return child;
    this.quiesce();
    const node = this.openNode(values);
    const fresh = this.made(node);
    const inTree = this.tree.findValues(values) === undefined;
    if (inTree) this.tree.insert(values, child);
    this.detached.delete(child as object);
    Object.setPrototypeOf(child, Object.getPrototypeOf(fresh) as object);
    Object.assign(child as object, fresh);
    this.hold(child, node, inTree ? undefined : values);
    return child;
  }

  // Every live series (labels, value) and the family's stale writes, in one walk.
  /** The unlabelled sample of the series whose cells are at `at`. */
  private sampleAt(at: number): MetricSample {
    const value = this.spec.read(at);
    const exemplar = this.spec.exemplar?.(at);
    return exemplar === undefined ? { labels: NO_LABELS, value } : { labels: NO_LABELS, value, exemplar };
  }

  /** @internal The series table's reader of this metric's cells (see readSeries). */
  private readAt: ((at: number) => MetricSample) | undefined = undefined;

  private readSeries(): { samples: MetricSample[]; stale: number } {
    if (this.table === undefined) return { samples: [this.sampleAt(this.familyData)], stale: 0 };
    // One reader per metric object, made at the first scrape: a closure made at every
    // scrape cost a defineProperty per family (the bundle keeps function names).
    const { live, stale } = this.table.read((this.readAt ??= (at: number) => this.sampleAt(at)));
    const samples: MetricSample[] = [];
    for (const n of live) {
      const labels = this.labelsOf(n.node, n.gen);
      if (labels !== undefined) samples.push(n.value.exemplar === undefined ? { labels, value: n.value.value } : { labels, value: n.value.value, exemplar: n.value.exemplar });
    }
    return { samples, stale };
  }

  // The frozen labels of the series in `node` at generation `gen` (the same object at
  // every scrape while the node holds that series), or undefined for a corrupt key.
  private labelsOf(node: number, gen: number): Readonly<Record<string, string>> | undefined {
    const known = this.labelCache.get(node);
    if (known !== undefined && (this.labelGens.get(node) ?? FIRST_GEN) === gen) return known;
    const values = this.table!.decodeKey(node, this.sorted.length);
    if (values === undefined) return undefined;
    // Parsed from JSON text, an object has exactly its properties (24 bytes and 8 a label),
    // where `{}` filled by assignment takes 56 up to four labels and a property array past
    // them; the object lives as long as its series, in every thread that scrapes.
    let text = '{';
    for (let i = 0; i < values.length; i++) text += `${i === 0 ? '' : ','}${JSON.stringify(this.sorted[i])}:${JSON.stringify(values[i])}`;
    const frozen = Object.freeze(JSON.parse(`${text}}`) as Record<string, string>);
    this.labelCache.set(node, frozen);
    if (gen === FIRST_GEN) this.labelGens.delete(node);
    else this.labelGens.set(node, gen);
    return frozen;
  }

  /**
   * @internal What collect() emits for this family at each scrape (kinds/series.ts): the
   * family with every series, and, once a user call removed a series (or a write landed
   * on a removed one), its stale writes as the built-in family `<prefix>metric_stale_writes_total{metric="<name>"}`.
   */
  familyEmitter(prefix: string): (out: FamilySink) => void {
    const unit = unitOf(this.definition, this.type);
    // Whether values are integers comes from the definition, never from the samples: a
    // family read before its first series must say the same as one read after.
    const f = { name: this.name, help: this.help, type: this.type, integer: this.countsIntegers() };
    const head: FamilyHead = unit === undefined ? f : { ...f, unit };
    const staleLabels = Object.freeze({ metric: this.name });
    return (out) => {
      this.quiesce();
      const samples = out.userFamily(head);
      const { samples: series, stale } = this.readSeries();
      for (const s of series) samples.push(s);
      // Once a user call removed a series, or a late write landed on a removed node (a
      // child of a creator that lost a race, cached while its node was briefly the series).
      if (this.table !== undefined && (Atomics.load(this.registry.views.i32, this.table.removedIndex) !== 0 || stale !== 0)) {
        out.add(`${prefix}metric_stale_writes_total`, 'counter', STALE_HELP, '1', staleLabels, stale, false);
      }
    };
  }

  /** @internal Whether the definition holds integer values (an integer counter); gauges and histograms hold doubles. */
  protected countsIntegers(): boolean {
    return false;
  }

  /**
   * @internal The data offset of the series for `labels` if it exists, else undefined: a
   * read that never creates a series (and never claims one). `use` reads it while this
   * thread holds the node.
   */
  protected existing<R>(labels: unknown, use: (dataOffset: number) => R): R | undefined {
    if (this.single !== undefined) {
      this.series(labels); // validates: no labels on a metric without label names
      return use(this.familyData);
    }
    if (labels === undefined) throw new InvalidLabelsError(this.name, `labels required: ${this.sorted.join(', ')}`);
    const values = checkLabels(this.name, this.sorted, labels);
    this.quiesce();
    const key = encodeKey(values);
    const node = this.table!.lookup(key, hashKey(key));
    if (node === 0) return undefined;
    try {
      return use(this.table!.cells(node));
    } finally {
      this.table!.release(node);
    }
  }

  /** @internal Where each live series' cells are, with its labels (tests read the stripes with it). */
  seriesCells(): { labels: Readonly<Record<string, string>>; dataOffset: number }[] {
    if (this.table === undefined) return [{ labels: NO_LABELS, dataOffset: this.familyData }];
    return this.table.read((at) => at).live.flatMap((n) => {
      const labels = this.labelsOf(n.node, n.gen);
      return labels === undefined ? [] : [{ labels, dataOffset: n.value }];
    });
  }

  /**
   * @internal The stripe blocks of an adaptive metric (adaptive-cells.ts): how many live
   * series have one, how many wait on the family's free list, and a block's bytes; undefined
   * for a metric that is not adaptive.
   */
  stripeBlocks(): { published: number; free: number; blockBytes: number } | undefined {
    const adaptive = this.spec.adaptive;
    if (adaptive === undefined) return undefined;
    const published = this.seriesCells().filter((s) => adaptive.block(s.dataOffset) !== 0).length;
    return { published, free: adaptive.freeBlocks(), blockBytes: adaptive.geometry.blockBytes };
  }

  /** @internal Reads every series once. */
  protected readAll(): MetricSample[] {
    this.quiesce();
    return this.readSeries().samples;
  }
}

const NO_LABELS = Object.freeze({}) as Readonly<Record<string, string>>;

// A node's gen from its first insert until it is first reclaimed (series-table.ts: 0 in
// fresh memory, one step as the insert begins and one as it ends). Only an optimisation of
// the label cache: a node at any other gen has its gen kept, so the check stays exact
// whatever the table's numbering.
const FIRST_GEN = 2;

/**
 * The body every metric kind's `open` shares: the definition's record (its name, and the
 * rest as the signature's descriptor) got or created as an entry of `kind`, with room for
 * the family's data, and this thread's Metric object built on it once.
 */
export function openMetric<D extends BaseDefinition, C, M>(
  registry: RegistryCore,
  kind: Kind,
  def: D,
  specOf: (registry: RegistryCore, def: D) => SeriesSpec<C>,
  Make: new (registry: RegistryCore, def: D, familyData: number, spec: SeriesSpec<C>) => M,
): M {
  const spec = specOf(registry, def);
  const { name, ...descriptor } = def;
  return registry.openEntry(name, kind, descriptor, familyBytes(def, spec.bytes), (familyData) => new Make(registry, def, familyData, spec));
}

/**
 * A metric kind's `threadEnded`: a stopped thread's claims in flight on a labelled family
 * become orphans for the family's threads to settle (claims.ts). A record whose data is
 * not a series table of its definition's size (corrupt) is left alone.
 */
export function reapFamily(i32: Int32Array, descriptor: Readonly<Record<string, unknown>>, dataOffset: number, dataBytes: number, id: number): void {
  const { labelNames, maxSeries } = descriptor;
  if (!Array.isArray(labelNames) || labelNames.length === 0 || typeof maxSeries !== 'number') return;
  if (!Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > MAX_MAX_SERIES || dataBytes !== labelledFamilyBytes(maxSeries)) return;
  const { countIndex, ticket0 } = claimWords(dataOffset);
  reapTickets(i32, countIndex, ticket0, id);
}

/** A metric kind's `dataBytes`: the kind checks its own definitions, and its records' sizes when it reads them. */
export const checkedByMetric = (): undefined => undefined;

// A series that writes an owned stripe has an internal retireStripe() (counter.ts,
// histogram.ts); a shared one (a gauge's, an unstriped one's) has none.
// Where a child's cells start: every kind's child keeps the address in `dataOffset`.
function cellsOf(child: unknown): number {
  return (child as { dataOffset: number }).dataOffset;
}

function retireSeries(c: unknown): void {
  (c as { retireStripe?: () => void }).retireStripe?.();
}

/** Bytes from a family's data to its series count. */
export function familyCountOffset(def: BaseDefinition, seriesBytes: number): number {
  return def.labelNames.length === 0 ? alignUp(seriesBytes, 8) : 0;
}

/**
 * Data bytes of a family record: an unlabelled metric's cells, its count word and the
 * free list of its stripe block (8 bytes each; adaptive-cells.ts), or a labelled one's
 * series table.
 */
export function familyBytes(def: BaseDefinition, seriesBytes: number): number {
  return def.labelNames.length === 0 ? familyCountOffset(def, seriesBytes) + 16 : labelledFamilyBytes(def.maxSeries);
}

export type { Labels, LabelValues };
