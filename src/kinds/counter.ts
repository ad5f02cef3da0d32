/*
 * Counter metrics: monotonic totals with prom-client's call shapes, shared by every thread.
 *
 * Cells of one series. An integer counter (the default) is the one-field counter set of
 * counter-set.ts: a u64 in a shared cell (64-bit atomic add), or with `striped: true` a
 * shared cell plus one owned stripe per attached thread (plain stores of a tagged low
 * word, assembly/counters.ts), summed on read. Values are exact integers up to 2^64. By
 * default (`striped` omitted) a series is adaptive (adaptive-cells.ts): the shared cell,
 * written by compare-and-swap, until threads contend on it; then a block of stripes.
 *
 * `float: true` counts fractions (prom-client allows `inc(0.5)`): the same geometry, but
 * each cell holds an f64's bits (assembly/gauges.ts): the shared cell takes a CAS add, an
 * owned stripe's high word an owner-only store, and a read sums the stripes in f64. An
 * integer counter refuses fractions rather than round them.
 */
import { TWO32, checkCount, highWord } from '../count.js';
import { InvalidCountError } from '../errors.js';
import type { CellOps } from '../ops/cells.js';
import { AdaptiveCells } from './adaptive-cells.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { alignUp, cellAddresses, setGeometry } from '../layout.js';
import { EXEMPLAR_SLOT, encodeExemplarLabels, readExemplar, writeExemplar } from './exemplars.js';
import { InvalidLabelsError } from './errors.js';
import {
  BASE_KEYS,
  type BaseDefinition,
  Metric,
  type MetricConfigurationBase,
  type MetricObject,
  type SeriesSpec,
  type Striping,
  checkBool,
  checkStriping,
  checkedByMetric, reapFamily,
  defineBase,
  openMetric,
} from './metric-base.js';
import type { LabelValues } from './labels.js';
import type { MetricOps } from '../ops/metrics.js';
import { FamilyCollector } from './series.js';
import { zeroF64, zeroU64 } from './zeroing.js';
import type { CollectOption } from '../collect-callbacks.js';

export interface CounterConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<CounterMetric<T>> {
  /**
   * `true`: each thread its own stripe of every series from the start, (stripes + 1) × 128
   * bytes a series; `false`: one shared cell a series, for every thread. Default
   * `'adaptive'`: one shared cell until threads write the series at the same instant, then
   * a stripe per thread for that series alone (LongAdder's design).
   */
  striped?: boolean | 'adaptive';
  /** Count fractional amounts (f64 cells) instead of exact u64 integers. Default false. */
  float?: boolean;
  /**
   * Keep an exemplar per series (OpenMetrics output): `inc({ labels, value, exemplarLabels })`,
   * as prom-client's; every object passed to `inc` is then that form. Default false.
   */
  enableExemplars?: boolean;
}

export interface CounterDefinition extends BaseDefinition {
  readonly striped: Striping;
  readonly float: boolean;
  /** Present (true) only when enabled, so definitions without it keep their signature. */
  readonly enableExemplars?: true;
}

/** prom-client's `inc` argument with exemplars (`enableExemplars: true`). */
export interface IncreaseDataWithExemplar<T extends string = string> {
  labels?: LabelValues<T>;
  value?: number;
  exemplarLabels?: Record<string, string | number>;
}

/** One series of a counter: `inc()` adds 1, `inc(n)` adds n (finite, >= 0; an integer unless the counter is `float`). */
export interface CounterSeries {
  inc(value?: number): void;
}

const KEYS = [...BASE_KEYS, 'striped', 'float', 'enableExemplars'];

export function defineCounter(options: unknown, internal = false): CounterDefinition {
  const { o, base } = defineBase(options, KEYS, [], internal);
  const def = { ...base, striped: checkStriping(o), float: checkBool(o, 'float') };
  return checkBool(o, 'enableExemplars') ? { ...def, enableExemplars: true } : def;
}

/**
 * A series of a `striped: false` integer counter: its one shared cell, with 64-bit atomic
 * adds. Two fields, where the counter-set object IntSeries wraps would add a third object
 * of eight (see AdaptiveContext: per-child fields multiply by the threads).
 */
class SharedIntSeries implements CounterSeries {
  constructor(
    private readonly ops: CellOps,
    readonly dataOffset: number,
  ) {}
  inc(n?: number): void {
    if (n === undefined) this.ops.sharedInc(this.dataOffset);
    else if (typeof n === 'number' && (n >>> 0) === n) this.ops.sharedAdd(this.dataOffset, n, 0);
    else this.slow(n);
  }
  private slow(n: unknown): void {
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0 && !Number.isInteger(n)) {
      throw new InvalidCountError(n, 'not an integer (create the counter with float: true to count fractions)');
    }
    checkCount(n);
    const hi = highWord(n);
    this.ops.sharedAdd(this.dataOffset, n - hi * TWO32, hi);
  }
}

/**
 * A series of a `striped: true` integer counter, in a thread that owns a stripe: its own
 * stripe's low word (the high word 8 bytes on: a one-field stripe, layout.ts setGeometry),
 * plain stores by the owned-cell protocol (assembly/counters.ts). An add of 2^30 or more
 * goes to the shared cell, which keeps every owned step of the high word small enough
 * for readers to place the low word exactly (counter-set.ts). When its stripe is handed
 * back it becomes a SharedIntSeries in place (its prototype swapped: `ops` and
 * `dataOffset` mean the same in both), so inc() never tests anything.
 */
class OwnedIntSeries implements CounterSeries {
  constructor(
    private readonly ops: CellOps,
    readonly dataOffset: number,
    private readonly low: number,
  ) {}
  /** @internal Its stripe is being handed back: atomic adds to the shared cell from now on. */
  retireStripe(): void {
    Object.setPrototypeOf(this, SharedIntSeries.prototype);
  }
  inc(n?: number): void {
    if (n === undefined) this.ops.ownedInc(this.low, this.low + 8);
    // 0x40000000: OWNED_ADD_LIMIT (counter-set.ts), as a literal.
    else if (typeof n === 'number' && (n >>> 0) === n && n < 0x40000000) this.ops.ownedAdd(this.low, this.low + 8, n);
    else if (typeof n === 'number' && (n >>> 0) === n) this.ops.sharedAdd(this.dataOffset, n, 0);
    else this.slow(n);
  }
  private slow(n: unknown): void {
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0 && !Number.isInteger(n)) {
      throw new InvalidCountError(n, 'not an integer (create the counter with float: true to count fractions)');
    }
    checkCount(n);
    const hi = highWord(n);
    this.ops.sharedAdd(this.dataOffset, n - hi * TWO32, hi);
  }
}

class FloatSeries implements CounterSeries {
  constructor(
    private readonly ops: MetricOps,
    // Not readonly: retireStripe() points them at the shared cell.
    private cell: number,
    private owned: boolean,
    readonly dataOffset: number,
  ) {}
  /**
   * @internal Its stripe is being handed back: from now on it CAS-adds to the shared cell
   * (the set's first cell, at dataOffset). Two field stores in place, so the `owned` test
   * inc() already makes is all the hot path ever sees.
   */
  retireStripe(): void {
    this.cell = this.dataOffset;
    this.owned = false;
  }
  inc(n?: number): void {
    const d = n === undefined ? 1 : n;
    // `d >= 0` is false for NaN; `<= MAX_VALUE` excludes +Infinity.
    if (typeof d !== 'number' || !(d >= 0 && d <= Number.MAX_VALUE)) throw new InvalidCountError(d, 'must be a finite number >= 0');
    if (this.owned) this.ops.f64OwnedAdd(this.cell, d);
    else this.ops.gaugeAdd(this.cell, d);
  }
}

/**
 * What the adaptive children of one metric share in one thread, kept once per metric
 * instead of in every child: each field of a child costs 8 bytes in every thread that
 * caches it, and a labelled metric may have thousands of children per thread. `stripe` is
 * the owned stripe slot the children were made under (see adaptiveCounterCells);
 * `inflated` holds the cells' address of each child that writes its stripe (few: the
 * contended series), which its one field no longer names.
 */
interface AdaptiveContext<O> {
  readonly ops: O;
  readonly adaptive: AdaptiveCells;
  readonly stripe: number;
  readonly inflated: WeakMap<object, number>;
}

/*
 * Where an adaptive child writes, in one number, `w`:
 *   w >= 0   its own stripe: the low word's address (integer counter; the high word is 8
 *            bytes on, a one-field stripe: layout.ts setGeometry, highOffset = 8), or the
 *            f64 slot's (float counter);
 *   w < 0    the base cell, at ~w with its low bit cleared: w odd (the bit clear) probes
 *            for contention with a compare-and-swap; w even (the bit set) adds atomically
 *            and probes no more (no stripe of its own, a refused series, or its stripe
 *            handed back).
 * Cells are 8-byte aligned, so the bit is free. Two fields (the metric's context and w)
 * instead of four: a child is cached in every thread that uses its labels. One object, one
 * branch on a field: the call sites stay monomorphic through inflation.
 */
const probing = (cells: number): number => ~cells;
const settled = (cells: number): number => ~(cells | 1);
// The cells' address of a child whose w is negative.
const baseOf = (w: number): number => ~w & ~7;
function checkAligned(cells: number): void {
  if ((cells & 7) !== 0) throw new Error(`internal: a series' cells at ${cells} are not 8-byte aligned`);
}

/** A series of an adaptive integer counter (adaptive-cells.ts): `w` as above. */
class AdaptiveIntSeries implements CounterSeries {
  private w: number;
  constructor(
    private readonly ctx: AdaptiveContext<CellOps>,
    dataOffset: number,
  ) {
    checkAligned(dataOffset);
    this.w = ctx.stripe < 0 ? settled(dataOffset) : probing(dataOffset);
  }
  /** Where the series' cells start. */
  get dataOffset(): number {
    const w = this.w;
    return w < 0 ? baseOf(w) : this.ctx.inflated.get(this)!;
  }
  /** @internal Its stripe is being handed back: atomic adds to the base cell from now on. */
  retireStripe(): void {
    this.w = settled(this.dataOffset);
  }
  inc(n?: number): void {
    if (n !== undefined) {
      if (typeof n === 'number' && (n >>> 0) === n) this.add(n, 0);
      else this.slow(n);
      return;
    }
    const w = this.w;
    if (w >= 0) this.ctx.ops.ownedInc(w, w + 8);
    else if ((w & 1) !== 0) {
      if (this.ctx.ops.baseInc(~w) !== 0) this.contended();
    } else this.ctx.ops.sharedInc(~w - 1);
  }
  private add(lo: number, hi: number): void {
    const w = this.w;
    // 0x40000000: OWNED_ADD_LIMIT (counter-set.ts), as a literal.
    if (w >= 0) {
      if (hi === 0 && lo < 0x40000000) this.ctx.ops.ownedAdd(w, w + 8, lo);
      else this.ctx.ops.sharedAdd(this.dataOffset, lo, hi);
    } else if ((w & 1) !== 0) {
      if (this.ctx.ops.baseAdd(~w, lo, hi) !== 0) this.contended();
    } else this.ctx.ops.sharedAdd(~w - 1, lo, hi);
  }
  private slow(n: unknown): void {
    if (typeof n === 'number' && Number.isFinite(n) && n >= 0 && !Number.isInteger(n)) {
      throw new InvalidCountError(n, 'not an integer (create the counter with float: true to count fractions)');
    }
    checkCount(n);
    const hi = highWord(n);
    this.add(n - hi * TWO32, hi);
  }
  // A swap on the base cell failed: the series gets its block (once, by whichever thread
  // comes first) and this child its stripe of it; or, refused, the base cell for good.
  private contended(): void {
    const cells = baseOf(this.w);
    const at = this.ctx.adaptive.stripeOf(cells, this.ctx.stripe);
    if (at === 0) this.w = settled(cells);
    else {
      this.ctx.inflated.set(this, cells);
      this.w = at;
    }
  }
}

/** A series of an adaptive float counter: as AdaptiveIntSeries, `w` >= 0 its stripe's f64 cell (the stripe's high slot). */
class AdaptiveFloatSeries implements CounterSeries {
  private w: number;
  constructor(
    private readonly ctx: AdaptiveContext<MetricOps>,
    dataOffset: number,
  ) {
    checkAligned(dataOffset);
    this.w = ctx.stripe < 0 ? settled(dataOffset) : probing(dataOffset);
  }
  /** Where the series' cells start. */
  get dataOffset(): number {
    const w = this.w;
    return w < 0 ? baseOf(w) : this.ctx.inflated.get(this)!;
  }
  /** @internal Its stripe is being handed back: CAS adds to the base cell from now on. */
  retireStripe(): void {
    this.w = settled(this.dataOffset);
  }
  inc(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || !(d >= 0 && d <= Number.MAX_VALUE)) throw new InvalidCountError(d, 'must be a finite number >= 0');
    const w = this.w;
    if (w >= 0) this.ctx.ops.f64OwnedAdd(w, d);
    else if ((w & 1) !== 0) {
      if (this.ctx.ops.f64BaseAdd(~w, d) !== 0) this.contended();
    } else this.ctx.ops.gaugeAdd(~w - 1, d);
  }
  private contended(): void {
    const cells = baseOf(this.w);
    const at = this.ctx.adaptive.stripeOf(cells, this.ctx.stripe);
    if (at === 0) this.w = settled(cells);
    else {
      this.ctx.inflated.set(this, cells);
      this.w = at + 8; // the stripe's high slot (highOffset 8, as above)
    }
  }
}

/**
 * The context the next child of an adaptive metric is made with: `last`, unless the
 * registry's owned stripe changed since (handed back: new children are made on the base
 * cells, as counterCells makes them shared). The stripe is read when a series is made.
 */
function contextFor<O>(last: AdaptiveContext<O>, stripe: number): AdaptiveContext<O> {
  return last.stripe === stripe ? last : { ...last, stripe };
}

function adaptiveCounterCells(registry: RegistryCore, def: CounterDefinition): SeriesSpec<CounterSeries> {
  const adaptive = new AdaptiveCells(registry, def.name, 1);
  const g = adaptive.geometry;
  // The children write a stripe's high word 8 bytes after its low word (one field).
  if (g.highOffset !== 8) throw new Error(`internal: a one-field stripe's high words are ${g.highOffset} bytes on, not 8`);
  if (!def.float) {
    const ops = registry.ops.cells;
    const buffer = registry.views.i32.buffer;
    let ctx: AdaptiveContext<CellOps> = { ops, adaptive, stripe: registry.ownedStripe(true), inflated: new WeakMap() };
    const read = (dataOffset: number): bigint => {
      const b = adaptive.block(dataOffset);
      return b === 0 ? ops.readShared64(dataOffset) : ops.readStriped64(dataOffset, b, b + g.highOffset, g.stride, g.stripes);
    };
    return {
      bytes: g.bytes,
      adaptive,
      // The stripe is read when a series is made (see counterCells).
      make: (dataOffset) => new AdaptiveIntSeries((ctx = contextFor(ctx, registry.ownedStripe(true))), dataOffset),
      read,
      tally: (dataOffset) => Number(read(dataOffset)),
      zero: (dataOffset) => {
        const b = adaptive.block(dataOffset);
        zeroU64(buffer, dataOffset, b === 0 ? undefined : { firstLow: b, firstHigh: b + g.highOffset, stride: g.stride, stripes: g.stripes });
      },
    };
  }
  const m = registry.ops.metrics;
  let fctx: AdaptiveContext<MetricOps> = { ops: m, adaptive, stripe: registry.ownedStripe(true), inflated: new WeakMap() };
  const read = (dataOffset: number): number => {
    const b = adaptive.block(dataOffset);
    return b === 0 ? m.gaugeGet(dataOffset) : m.f64SumStriped(dataOffset, b + g.highOffset, g.stride, g.stripes);
  };
  return {
    bytes: g.bytes,
    adaptive,
    make: (dataOffset) => new AdaptiveFloatSeries((fctx = contextFor(fctx, registry.ownedStripe(true))), dataOffset),
    read,
    tally: read,
    zero: (dataOffset) => {
      const b = adaptive.block(dataOffset);
      zeroF64(m, dataOffset, b === 0 ? undefined : { first: b + g.highOffset, stride: g.stride, stripes: g.stripes });
    },
  };
}

// The spec with an exemplar slot after the cells, when the definition enables them (exemplars.ts).
function withExemplarSlot<C>(registry: RegistryCore, def: { enableExemplars?: true }, spec: SeriesSpec<C>): SeriesSpec<C> {
  if (def.enableExemplars !== true) return spec;
  const at = alignUp(spec.bytes, 8);
  const { i32, u8 } = registry.views;
  const m = registry.ops.metrics;
  return { ...spec, bytes: at + EXEMPLAR_SLOT, exemplar: (dataOffset) => readExemplar(i32, u8, m, dataOffset + at) };
}

function counterSpec(registry: RegistryCore, def: CounterDefinition): SeriesSpec<CounterSeries> {
  return withExemplarSlot(registry, def, counterCells(registry, def));
}

function counterCells(registry: RegistryCore, def: CounterDefinition): SeriesSpec<CounterSeries> {
  if (def.striped === 'adaptive') return adaptiveCounterCells(registry, def);
  const striped = def.striped;
  const geometry = setGeometry(1, striped, registry.stripes);
  const ops = registry.ops.cells;
  // The owned stripe is read when a series is made, not when the metric is opened: once
  // the registry object has handed its stripe back, new series are made shared.
  if (!def.float) {
    const buffer = registry.views.i32.buffer;
    const read = (dataOffset: number): bigint => {
      if (!geometry.striped) return ops.readShared64(dataOffset);
      const first = cellAddresses(geometry, dataOffset, 0, 0);
      return ops.readStriped64(first.shared, first.low, first.high, geometry.stride, geometry.stripes);
    };
    // The children write a stripe's high word 8 bytes after its low word (one field).
    if (striped && geometry.highOffset !== 8) throw new Error(`internal: a one-field stripe's high words are ${geometry.highOffset} bytes on, not 8`);
    return {
      bytes: geometry.dataBytes,
      make: (dataOffset) => {
        const stripe = registry.ownedStripe(striped);
        return stripe < 0 ? new SharedIntSeries(ops, dataOffset) : new OwnedIntSeries(ops, dataOffset, cellAddresses(geometry, dataOffset, 0, stripe).low);
      },
      read,
      tally: (dataOffset) => Number(read(dataOffset)),
      zero: (dataOffset) => {
        if (!geometry.striped) return zeroU64(buffer, dataOffset, undefined);
        const first = cellAddresses(geometry, dataOffset, 0, 0);
        zeroU64(buffer, first.shared, { firstLow: first.low, firstHigh: first.high, stride: geometry.stride, stripes: geometry.stripes });
      },
    };
  }
  const m = registry.ops.metrics;
  const read = (dataOffset: number): number => {
    if (!geometry.striped) return m.gaugeGet(dataOffset);
    const first = cellAddresses(geometry, dataOffset, 0, 0);
    return m.f64SumStriped(dataOffset, first.high, geometry.stride, geometry.stripes);
  };
  return {
    bytes: geometry.dataBytes,
    make: (dataOffset) => {
      const stripe = registry.ownedStripe(striped);
      return stripe >= 0
        ? new FloatSeries(m, cellAddresses(geometry, dataOffset, 0, stripe).high, true, dataOffset)
        : new FloatSeries(m, dataOffset, false, dataOffset);
    },
    read,
    tally: read,
    zero: (dataOffset) => {
      zeroF64(m, dataOffset, geometry.striped ? { first: cellAddresses(geometry, dataOffset, 0, 0).high, stride: geometry.stride, stripes: geometry.stripes } : undefined);
    },
  };
}

/**
 * A counter shared by every thread of a registry (`registry.counter({ name, help, labelNames })`),
 * with prom-client's call shapes: `inc()`, `inc(5)`, `inc({ route: '/a' })`,
 * `inc({ route: '/a' }, 5)`, and `labels(...)` for a cached series.
 */
export class CounterMetric<T extends string = string> extends Metric<CounterSeries, T> {
  readonly type = 'counter' as const;
  /** How each series is striped per thread: always (true), never (false), or once contended ('adaptive', the default). */
  readonly striped: Striping;
  /** Whether the counter counts fractions (f64) rather than exact integers. */
  readonly float: boolean;

  /** @internal */
  constructor(registry: RegistryCore, def: CounterDefinition, familyData: number, spec: SeriesSpec<CounterSeries>) {
    super(registry, def, familyData, spec);
    this.striped = def.striped;
    this.float = def.float;
    this.enableExemplars = def.enableExemplars === true;
    this.exemplarAt = this.enableExemplars ? spec.bytes - EXEMPLAR_SLOT : -1;
  }

  /** Whether the counter keeps an exemplar per series (`inc({ labels, value, exemplarLabels })`). */
  readonly enableExemplars: boolean;
  // Bytes from a series' cells to its exemplar slot, or -1.
  private readonly exemplarAt: number;

  // prom-client's incWithExemplar: labels, value (default 1) and exemplarLabels in one object.
  private incWithExemplar(d: IncreaseDataWithExemplar<T>, extra: unknown): void {
    if (extra !== undefined) throw new InvalidLabelsError(this.name, 'with enableExemplars, inc takes one object: inc({ labels, value, exemplarLabels })');
    for (const k of Object.keys(d)) {
      if (k !== 'labels' && k !== 'value' && k !== 'exemplarLabels') throw new InvalidLabelsError(this.name, `with enableExemplars, inc takes { labels, value, exemplarLabels }; got the key ${JSON.stringify(k)}`);
    }
    const encoded = d.exemplarLabels === undefined ? undefined : encodeExemplarLabels(this.name, d.exemplarLabels);
    const child = this.series(d.labels) as CounterSeries & { dataOffset: number };
    child.inc(d.value);
    if (encoded !== undefined) writeExemplar(this.registry.views.i32, this.registry.views.u8, this.registry.ops.metrics, child.dataOffset + this.exemplarAt, encoded, d.value ?? 1);
  }

  /** @internal */
  protected override countsIntegers(): boolean {
    return !this.float;
  }

  inc(data: IncreaseDataWithExemplar<T>): void;
  inc(labels?: LabelValues<T> | number, value?: number): void;
  inc(labels?: LabelValues<T> | number | IncreaseDataWithExemplar<T>, value?: number): void {
    if (typeof labels === 'object' && labels !== null) {
      if (this.exemplarAt >= 0) {
        this.incWithExemplar(labels as IncreaseDataWithExemplar<T>, value);
        return;
      }
      this.series(labels).inc(value);
      return;
    }
    if (value !== undefined) throw new InvalidLabelsError(this.name, 'labels must be an object: inc(labels, value)');
    this.series(undefined).inc(labels);
  }

  /** prom-client's MetricObject: one value per series, as numbers (exact below 2^53). */
  async get(): Promise<MetricObject> {
    return {
      name: this.name,
      help: this.help,
      type: 'counter',
      values: this.readAll().map((s) => ({ labels: { ...s.labels }, value: Number(s.value as bigint | number) })),
      aggregator: 'sum',
    };
  }
}

/** The counter metrics' kind. */
export const counterKind = {
  name: 'counter',
  code: 6,
  dataBytes: checkedByMetric,
  threadEnded: reapFamily,
  collector: new FamilyCollector((registry, definition): CounterMetric => counterKind.open(registry, definition, true)),

  /** The body of `StatsRegistry.counter`; `internal`: the package's own families (see defineBase). */
  open<T extends string = string>(registry: RegistryCore, options: unknown, internal = false): CounterMetric<T> {
    return openMetric(registry, counterKind, defineCounter(options, internal), counterSpec, CounterMetric<T>);
  },
} satisfies Kind;
