/*
 * What every metric kind (counter, gauge, histogram) shares: its definition, its labelled
 * series in the shared directory, the cardinality bound, and the per-thread cache.
 *
 * Shared bytes of a family. The family is one directory record named as the user named
 * it, its signature the normalised definition (so the same definition from any thread is
 * the same metric and any other is a NameConflictError). Its data:
 *   unlabelled metric:  the one series' cells (the kind's layout), then
 *   every metric:       an i32 series count, 8-byte aligned after the cells.
 * Each labelled series is a record of its own, named `family{a="x",...}` (labels.ts),
 * kind code metricSeries, signature {kind, of, family, labels}, holding one series' cells.
 *
 * Cardinality. Records are never freed, so a label with unbounded values would fill the
 * registry. Before publishing a new series a thread claims one unit of the family's count
 * with a CAS that refuses to go past maxSeries; only then does it create the record. If
 * the directory shows that another thread published the same series first (the create
 * lost a race) the claim is handed back. So the count is exactly the number of series
 * published, except transiently: between a claim and its hand-back (microseconds) it is
 * one high, which near the limit can refuse a third thread's new series that would have
 * fitted -- the conservative direction, never one series too many. A thread terminated
 * between its claim and its publish leaves the count one high for good (a slot lost, not
 * a series). A series that already exists is always reachable, at the limit too: the
 * directory is probed before anything is claimed.
 */
import type { RegistryCore } from '../registry-core.js';
import { type RecordInfo, utf8 } from '../directory.js';
import { seriesRecordsOf } from './series-index.js';
import { InvalidOptionsError, NameConflictError } from '../errors.js';
import { MAX_NAME_BYTES, alignUp } from '../layout.js';
import { checkOptionsObject } from '../validate.js';
import type { MetricFamily, MetricSample, MetricType } from '../export/family.js';
import { METRIC_KIND_CODES } from './codes.js';
import { CardinalityLimitError, InvalidLabelsError } from './errors.js';
import { type LabelValues, type Labels, LabelTree, RESERVED_PREFIX, checkHelp, checkLabelNames, checkLabels, checkMetricName, seriesName } from './labels.js';

/** Default bound on a metric's labelled series. */
export const DEFAULT_MAX_SERIES = 1000;
/** Largest `maxSeries` accepted. */
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
  let maxSeries = DEFAULT_MAX_SERIES;
  if (o.maxSeries !== undefined) {
    const m = o.maxSeries;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > MAX_MAX_SERIES) {
      throw new InvalidOptionsError('maxSeries', `must be an integer from 1 to ${MAX_MAX_SERIES}, got ${String(m)}`);
    }
    maxSeries = m;
  }
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
  const v = o[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidOptionsError(key, 'must be a boolean');
  return v;
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

  /** Series created so far by every thread (the shared count that maxSeries bounds). */
  seriesCount(): number {
    return this.labelNames.length === 0 ? 1 : Atomics.load(this.registry.views.i32, this.countIndex);
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
    const signature = JSON.stringify({ kind: 'metricSeries', of: this.type, family: this.name, labels });
    const directory = this.registry.directory;
    let record = directory.find(name);
    if (record === undefined) {
      this.claim();
      try {
        record = directory.findOrCreate({ name, kind: METRIC_KIND_CODES.metricSeries, signature, dataBytes: this.spec.bytes });
      } catch (e) {
        this.release();
        throw e;
      }
      // Someone else published this name between our probe and our create: their claim
      // covers it, so ours goes back.
      if (record.created !== true) this.release();
    }
    if (record.signature !== signature) throw new NameConflictError(name, record.signature, signature);
    // The same signature means the same family definition and so the same geometry; a record
    // too small for it was not written by this layout, and its bytes are not ours to use.
    if (record.dataBytes < this.spec.bytes) throw new NameConflictError(name, `a series of ${record.dataBytes} bytes`, `a series of ${this.spec.bytes} bytes`);
    return this.spec.make(record.dataOffset);
  }

  private claim(): void {
    const i32 = this.registry.views.i32;
    for (;;) {
      const n = Atomics.load(i32, this.countIndex);
      // n < 0 cannot be written by this code; read as full rather than trusted.
      if (n < 0 || n >= this.maxSeries) throw new CardinalityLimitError(this.name, this.maxSeries);
      if (Atomics.compareExchange(i32, this.countIndex, n, n + 1) === n) return;
    }
  }

  private release(): void {
    Atomics.sub(this.registry.views.i32, this.countIndex, 1);
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

  /** @internal This family as collect() reports it. */
  family(children: readonly RecordInfo[]): MetricFamily {
    const unit = unitOf(this.definition, this.type);
    const f = { name: this.name, help: this.help, type: this.type, samples: this.samples(children) };
    return unit === undefined ? f : { ...f, unit };
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

/** Bytes from a family's data to its series count. */
export function familyCountOffset(def: BaseDefinition, seriesBytes: number): number {
  return def.labelNames.length === 0 ? alignUp(seriesBytes, 8) : 0;
}

/** Data bytes of a family record. */
export function familyBytes(def: BaseDefinition, seriesBytes: number): number {
  return familyCountOffset(def, seriesBytes) + 8;
}

export type { Labels, LabelValues };
