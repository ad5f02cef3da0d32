/*
 * What every metric kind (counter, gauge, histogram) shares: its definition, its labelled
 * series in the shared directory, the cardinality bound, and the per-thread cache.
 *
 * Shared bytes of a family. The family is one directory record named as the user named
 * it, its signature the normalised definition (so the same definition from any thread is
 * the same metric and any other is a NameConflictError). Its data:
 *   unlabelled metric:  the one series' cells (the kind's layout), then
 *   every metric:       the i32 count word (below), 8-byte aligned after the cells.
 * Each labelled series is a record of its own, named `family{a="x",...}` (labels.ts),
 * kind code metricSeries, signature {kind, of, family, labels}, holding one series' cells.
 *
 * Cardinality. Records are never freed, so a label with unbounded values would fill the
 * registry. The family's count word bounds them: an i32 holding two fields,
 *   bits 0..19   claims: series published, plus claims in flight (COUNT_MASK; maxSeries
 *                is at most 1,000,000 < 2^20, so a claim never carries into the next field)
 *   bits 20..31  claims in flight: made and not yet resolved (read unsigned, < 4096)
 * Before publishing a new series a thread claims with one CAS that adds 1 to both fields,
 * and refuses to take the first past maxSeries. It then creates the record. If it
 * published, it subtracts 1 from the in-flight field; if the directory shows that another
 * thread published the same series first (it lost the race), its claim goes back: 1 from
 * both fields. Every published series was claimed and its claim kept, and every claim
 * not yet resolved is in flight, so claims = published + (claims in flight not yet
 * published) at every instant: with nothing in flight, claims is exactly the number of
 * series published.
 *
 * Exact refusals. Two threads creating the same series both claim, and one hands back.
 * Between the two, claims is one more than the series there will be, and a thread that
 * wants one more series just then would see the family full although its series fits:
 * with two threads it happens to about one trial in thirty. So a full count refuses only
 * when nothing is in flight: one load then shows claims = published = maxSeries at one
 * instant (the two fields share a word so that one load reads both; two words read one
 * after the other could each be right at a different moment). With claims in flight the
 * thread waits on the word (Atomics.wait, which Node allows on its main thread too;
 * every resolve notifies, so the wait lasts as long as the claim it waits for) and reads
 * again; each resolution either publishes (the limit was real) or hands back (room
 * again). Before a
 * refusal the directory is probed once more: the series it was about to create may have
 * been published meanwhile, by the very claim it waited for, and an existing series is
 * always reachable. A waiting thread holds no claim itself, so waits cannot form a cycle.
 *
 * The bound. A thread terminated between its claim and its resolve leaves the in-flight
 * field one high for good, and the claims field too unless it had published (a slot
 * lost, not a series); nothing would ever notify. So a
 * wait ends after CLAIM_WAIT_MS whatever happens, and the create is then refused; the
 * word seen then is remembered per metric object, and a refusal that finds the word
 * exactly as it was refuses at once, so a dead claimer costs each thread one wait per
 * state of the family, not one per create. A live claimer descheduled for longer than
 * the bound makes the same refusal: the one way left to be refused below the limit. Four
 * thousand claims in flight at once (more threads than Node runs) are treated alike.
 * A series that already exists is reachable at the limit too: the directory is probed
 * before anything is claimed.
 */
import type { Kind, RegistryCore } from '../registry-core.js';
import { type RecordInfo, utf8 } from '../directory.js';
import { seriesRecordsOf } from './series-index.js';
import { InvalidOptionsError, NameConflictError } from '../errors.js';
import type { FamilyHead, FamilySink } from '../kind.js';
import { MAX_NAME_BYTES, alignUp } from '../layout.js';
import { bool, checkOptionsObject, intIn } from '../validate.js';
import type { MetricSample, MetricType } from '../family.js';
import { metricSeriesKind } from './series.js';
import { CardinalityLimitError, InvalidLabelsError } from './errors.js';
import { type LabelValues, type Labels, LabelTree, RESERVED_PREFIX, checkHelp, checkLabelNames, checkLabels, checkMetricName, seriesName } from './labels.js';

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
}

interface SeriesMeta {
  readonly labels: Readonly<Record<string, string>>;
  readonly dataOffset: number;
}

// The family's count word (see the essay above).
const COUNT_BITS = 20;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
const IN_FLIGHT_ONE = 1 << COUNT_BITS;
const IN_FLIGHT_MAX = 0xfff;
/** Longest a create waits for claims in flight before it is refused. */
export const CLAIM_WAIT_MS = 100;

/** Parsed series records, by registry and record offset (records never change once published). */
const seriesMetaCache = new WeakMap<RegistryCore, Map<number, SeriesMeta | null>>();

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
  private readonly tree: LabelTree<C>;
  private readonly single: C | undefined;
  private readonly familyData: number;
  private readonly countIndex: number;
  // The count word a wait for claims in flight last timed out on (see the essay), or 0.
  private stalled = 0;

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
    this.tree = new LabelTree<C>(this.sorted);
    this.familyData = familyData;
    this.countIndex = (familyData + familyCountOffset(def, spec.bytes)) >>> 2;
    this.single = def.labelNames.length === 0 ? spec.make(familyData) : undefined;
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
    if (args.length !== this.labelNames.length) {
      throw new InvalidLabelsError(this.name, `expected ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${args.length}`);
    }
    const o: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i++) o[this.labelNames[i]!] = args[i];
    return this.series(o);
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
    this.tree.forEach(retireSeries);
  }

  /** Series created so far by every thread (the shared count that maxSeries bounds). */
  seriesCount(): number {
    return this.labelNames.length === 0 ? 1 : Atomics.load(this.registry.views.i32, this.countIndex) & COUNT_MASK;
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
    const known = this.tree.findValues(values);
    if (known !== undefined) return known;
    const c = this.openSeries(values);
    this.tree.insert(values, c);
    return c;
  }

  private openSeries(values: readonly string[]): C {
    const name = seriesName(this.name, this.sorted, values);
    if (utf8(name).length > MAX_NAME_BYTES) {
      throw new InvalidLabelsError(this.name, `label values too long: the series name ${JSON.stringify(name.slice(0, 60))}... exceeds ${MAX_NAME_BYTES} UTF-8 bytes`);
    }
    const labels: Record<string, string> = {};
    for (let i = 0; i < values.length; i++) labels[this.sorted[i]!] = values[i]!;
    const signature = JSON.stringify({ kind: metricSeriesKind.name, of: this.type, family: this.name, labels });
    const directory = this.registry.directory;
    let record = directory.find(name);
    if (record === undefined) {
      if (!this.claim()) {
        // Full, with nothing in flight; but the claim this thread waited for may have
        // published this very series.
        record = directory.find(name);
        if (record === undefined) throw new CardinalityLimitError(this.name, this.maxSeries);
      } else {
        try {
          record = directory.findOrCreate({ name, kind: metricSeriesKind.code, signature, dataBytes: this.spec.bytes });
        } catch (e) {
          this.resolve(false);
          throw e;
        }
        // Someone else published this name between our probe and our create: their claim
        // covers it, so ours goes back.
        this.resolve(record.created === true);
      }
    }
    if (record.signature !== signature) throw new NameConflictError(name, record.signature, signature);
    // The same signature means the same family definition and so the same geometry; a record
    // too small for it was not written by this layout, and its bytes are not ours to use.
    if (record.dataBytes < this.spec.bytes) throw new NameConflictError(name, `a series of ${record.dataBytes} bytes`, `a series of ${this.spec.bytes} bytes`);
    return this.spec.make(record.dataOffset);
  }

  /**
   * Claims a unit of the count for a new series: true, or false when the family is full
   * with no claim in flight (or the wait for one ran out; see the essay).
   */
  private claim(): boolean {
    const i32 = this.registry.views.i32;
    let deadline = -1;
    for (;;) {
      const w = Atomics.load(i32, this.countIndex);
      const claims = w & COUNT_MASK;
      const inFlight = w >>> COUNT_BITS;
      if (claims < this.maxSeries && inFlight < IN_FLIGHT_MAX) {
        if (Atomics.compareExchange(i32, this.countIndex, w, (w + 1 + IN_FLIGHT_ONE) | 0) === w) return true;
        continue;
      }
      // Full. Exact when nothing is in flight; else wait for a resolve, within the bound.
      if (inFlight === 0 || w === this.stalled) return false;
      const now = performance.now();
      if (deadline < 0) deadline = now + CLAIM_WAIT_MS;
      else if (now >= deadline) {
        this.stalled = w;
        return false;
      }
      Atomics.wait(i32, this.countIndex, w, deadline - now);
    }
  }

  /** Ends a claim: the series was published (`kept`), or the claim goes back. Wakes any waiter. */
  private resolve(kept: boolean): void {
    const i32 = this.registry.views.i32;
    Atomics.sub(i32, this.countIndex, kept ? IN_FLIGHT_ONE : IN_FLIGHT_ONE + 1);
    Atomics.notify(i32, this.countIndex);
  }

  /** @internal Every series of the family as any thread sees it now; `children` are its series records. */
  samples(children: readonly RecordInfo[]): MetricSample[] {
    if (this.single !== undefined) return [{ labels: {}, value: this.spec.read(this.familyData) }];
    const out: MetricSample[] = [];
    for (const r of children) {
      const meta = this.seriesMeta(r);
      if (meta !== null) out.push({ labels: meta.labels, value: this.spec.read(meta.dataOffset) });
    }
    return out;
  }

  /**
   * @internal What collect() emits for this family at each scrape (kinds/series.ts): the
   * family, and for an unlabelled metric its one sample; a labelled metric's samples come
   * from its series' records (seriesEmitter).
   */
  familyEmitter(): (out: FamilySink) => void {
    const unit = unitOf(this.definition, this.type);
    // Whether values are integers comes from the definition, never from the samples: a
    // family read before its first series must say the same as one read after.
    const f = { name: this.name, help: this.help, type: this.type, integer: this.countsIntegers() };
    const head: FamilyHead = unit === undefined ? f : { ...f, unit };
    if (this.single === undefined) return (out) => void out.userFamily(head);
    const { spec, familyData } = this;
    return (out) => void out.userFamily(head).push({ labels: NO_LABELS, value: spec.read(familyData) });
  }

  /**
   * @internal What collect() emits for the series record `r` at each scrape, or undefined
   * when it is not a series of this family (seriesMeta says which are, once per record).
   */
  seriesEmitter(r: RecordInfo): ((out: FamilySink) => void) | undefined {
    if (this.single !== undefined) return undefined;
    const meta = this.seriesMeta(r);
    if (meta === null) return undefined;
    const { name, spec } = this;
    const { labels, dataOffset } = meta;
    return (out) => void out.userSeries(name).push({ labels, value: spec.read(dataOffset) });
  }

  /** @internal Whether the definition holds integer values (an integer counter); gauges and histograms hold doubles. */
  protected countsIntegers(): boolean {
    return false;
  }

  // A series record is read only if its signature says it belongs to this family and
  // kind with exactly this family's label names, and it is large enough: the bytes are
  // shared, so a record written by another version (or garbage) is skipped, not trusted.
  private seriesMeta(r: RecordInfo): SeriesMeta | null {
    let cache = seriesMetaCache.get(this.registry);
    if (cache === undefined) seriesMetaCache.set(this.registry, (cache = new Map()));
    let meta = cache.get(r.offset);
    if (meta === undefined) {
      meta = null;
      try {
        const d = JSON.parse(r.signature) as { kind?: unknown; of?: unknown; family?: unknown; labels?: unknown };
        if (d.kind === 'metricSeries' && d.of === this.type && d.family === this.name && r.dataBytes >= this.spec.bytes) {
          const values = checkLabels(this.name, this.sorted, d.labels);
          if (seriesName(this.name, this.sorted, values) === r.name) {
            const labels: Record<string, string> = {};
            for (let i = 0; i < values.length; i++) labels[this.sorted[i]!] = values[i]!;
            meta = { labels: Object.freeze(labels), dataOffset: r.dataOffset };
          }
        }
      } catch {
        meta = null;
      }
      cache.set(r.offset, meta);
    }
    return meta;
  }

  /**
   * @internal The data offset of the series for `labels` if any thread created it, else
   * undefined: a read that never creates a series (and never claims one).
   */
  protected existing(labels: unknown): number | undefined {
    if (this.single !== undefined) {
      this.series(labels); // validates: no labels on a metric without label names
      return this.familyData;
    }
    if (labels === undefined) throw new InvalidLabelsError(this.name, `labels required: ${this.sorted.join(', ')}`);
    const values = checkLabels(this.name, this.sorted, labels);
    const known = this.tree.findValues(values) as { dataOffset?: number } | undefined;
    if (known?.dataOffset !== undefined) return known.dataOffset;
    const record = this.registry.directory.find(seriesName(this.name, this.sorted, values));
    return record === undefined ? undefined : (this.seriesMeta(record)?.dataOffset ?? undefined);
  }

  /** @internal Reads every series once (one directory walk). */
  protected readAll(): MetricSample[] {
    if (this.single !== undefined) return this.samples([]);
    return this.samples(seriesRecordsOf(this.registry, this.name));
  }
}

const NO_LABELS = Object.freeze({}) as Readonly<Record<string, string>>;

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

/** A metric kind's `dataBytes`: the kind checks its own definitions, and its records' sizes when it reads them. */
export const checkedByMetric = (): undefined => undefined;

// A series that writes an owned stripe has an internal retireStripe() (counter.ts,
// histogram.ts); a shared one (a gauge's, an unstriped one's) has none.
function retireSeries(c: unknown): void {
  (c as { retireStripe?: () => void }).retireStripe?.();
}

/** Bytes from a family's data to its series count. */
export function familyCountOffset(def: BaseDefinition, seriesBytes: number): number {
  return def.labelNames.length === 0 ? alignUp(seriesBytes, 8) : 0;
}

/** Data bytes of a family record. */
export function familyBytes(def: BaseDefinition, seriesBytes: number): number {
  return familyCountOffset(def, seriesBytes) + 8;
}

export type { Labels, LabelValues };
