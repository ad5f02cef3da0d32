/*
 * Gauge metrics: a float64 per series that any thread may set, raise or lower.
 *
 * The base cell. A series' value lives in an 8-byte cell holding an f64's bits
 * (assembly/gauges.ts has the protocol): `set` is an atomic store (the last store wins)
 * and `inc`/`dec` a CAS loop on the bits, so concurrent adds are exact: each lands once,
 * as if the adds ran one after another in some order (each rounds like a double add; sums
 * of values exact in binary, e.g. integers below 2^53, stay exact). With `striped: false`
 * that cell is the whole series.
 *
 * Stripes under contention. By default (`striped` omitted, or 'adaptive') a series is
 * adaptive (adaptive-cells.ts, one field): the base cell and the inflation word after it,
 * 16 bytes. Adds to the base go through f64BaseAdd, and the first failed swap (threads
 * adding at the same instant) gives the series a block of stripes; from its next add on,
 * a thread that owns a stripe slot adds to its own stripe's f64 cell (the stripe's high
 * slot, as a float counter's). The value is the base cell plus every stripe. Only adds
 * move a series to its stripes: a gauge that threads only `set` stays on its base cell.
 *
 * Why a set can clear stripes, and why a stripe takes a CAS. Stripes summed on read are
 * additive and `set` is not (two threads' set(5) on their own stripes would read 10), so a
 * set on a series with stripes clears them: it stores 0 into every stripe's cell, then v
 * into the base cell (f64SetStriped, one call into the core). A set first tries
 * f64BaseSet, which stores v at once while the series' word is clear: the cost of a
 * `striped: false` set, for every series that has no stripes. Another thread's stripe is
 * then written by two threads, its owner and the setter, so the owner may not use the
 * owner-only plain load-then-store of a counter's stripe (a load before the set's 0 and a
 * store after it would bring back what the set erased): a gauge's stripe takes the CAS add
 * (gaugeAdd), whose swap fails on the 0 and retries from it. Every write to a stripe being
 * atomic, owning a stripe is not needed for correctness, only for speed: a stripe that one
 * thread adds to keeps its cache line in that thread's core. So a thread with no stripe of
 * its own (every slot held), one whose series was refused a block, and one whose stripe was
 * handed back (close, exit) add to the base cell, probing no more, as counters do: taking
 * another thread's stripe would only move the contention there. `striped: true` is refused:
 * every series would pay a stripe per thread from the start, and every set a store per
 * stripe, for series that may never be contended.
 *
 * A set racing adds. A set is: 0 into stripe 0, 1, ..., then v into the base. An add is
 * one successful CAS on one cell, so it lands either before or after the set's store to
 * that cell:
 *   - on a stripe, an add that lands before the stripe's 0 is erased (it counts as made
 *     before the set); one that lands after it is kept (after the set). A CAS that loaded
 *     before the 0 and swaps after it fails and retries from 0, so it is kept, once;
 *   - on the base, an add that lands before the store of v is overwritten (before the
 *     set); one that lands after it adds to v (after).
 * Once the writers are quiet the value is v plus exactly the adds ordered after the set:
 * every add is kept once or erased once, never half. Every add that finished before the
 * set began is erased, every add begun after it ended is kept. Of the adds that overlap
 * it, which are kept depends on the cell each one hit and when, not on their order across
 * threads: an add on a stripe the set has already cleared is kept while a later add on the
 * base, not yet overwritten, is erased. The set is not linearizable with adds that race
 * it (making it so would need a lock, or a version word that every add reads); its result
 * is always a value v plus adds that did race it or came after. Two sets that race end
 * with the value of the one whose store to the base lands last, plus adds ordered after it
 * (an add erased by the other set's 0 raced both): the base only ever receives a set's v
 * and the stripes only adds, so two values set are never added together.
 *
 * A reader during a set. A read loads the base cell first, then every stripe
 * (f64SumStriped); a set clears the stripes first, then stores the base. A read that
 * loads the new v therefore comes after every stripe was cleared, and reads v plus adds
 * made after the set. A read that loads the old base may see some stripes cleared and
 * others not yet: a value between the old and the new that the series never held. As a
 * counter's, a read is a sum of individually atomic loads, not a snapshot.
 *
 * A thread terminated during a set (its stores are a loop in the core, and one Atomics
 * call per stripe in the JS twin: points where V8 acts on a termination) leaves that set
 * half done for good: some stripes cleared and the old base, a value no thread set. The
 * next set (or a removal) ends it. Adds are one CAS each and are never cut.
 *
 * Inflation itself (the block, its publication, a refused one, a corrupt word, reclaim of
 * a removed series' block): adaptive-cells.ts, the same for every kind.
 */
import { InvalidOptionsError } from '../errors.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { AdaptiveCells } from './adaptive-cells.js';
import { InvalidLabelsError, InvalidValueError } from './errors.js';
import type { LabelValues } from './labels.js';
import { BASE_KEYS, type BaseDefinition, Metric, type MetricConfigurationBase, type MetricObject, type SeriesSpec, checkStriping, checkedByMetric, reapFamily, defineBase, openMetric } from './metric-base.js';
import type { MetricOps } from '../ops/metrics.js';
import { FamilyCollector } from './series.js';
import type { CollectOption } from '../collect-callbacks.js';

/** How a gauge's series are striped: once threads contend on their adds (`'adaptive'`, the default) or never (`false`). */
export type GaugeStriping = false | 'adaptive';

export interface GaugeConfiguration<T extends string = string> extends MetricConfigurationBase<T>, CollectOption<GaugeMetric<T>> {
  /**
   * Default `'adaptive'`: one shared cell a series until threads `inc`/`dec` it at the
   * same instant, then a stripe per thread for that series alone, which every `set`
   * clears. `false`: one shared cell a series, for every thread. (`true` is refused:
   * `set` replaces the value, so every set would have to clear a stripe per thread.)
   */
  striped?: GaugeStriping;
}

export interface GaugeDefinition extends BaseDefinition {
  readonly striped: GaugeStriping;
}

/** One series of a gauge. Every value is a finite number; anything else throws InvalidValueError and changes nothing. */
export interface GaugeSeries {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
  /** Sets the gauge to the current Unix time in seconds. */
  setToCurrentTime(): void;
  /** Starts a timer; the returned function sets the gauge to the seconds elapsed and returns them. */
  startTimer(): () => number;
}

const KEYS = [...BASE_KEYS, 'striped'];

export function defineGauge(options: unknown, internal = false): GaugeDefinition {
  const { o, base } = defineBase(options, KEYS, [], internal);
  if (o.striped === true) {
    throw new InvalidOptionsError(
      'striped',
      'a gauge cannot be striped from the start: set replaces the value, so every set would have to clear a stripe per thread of the series. Omit it (the default, "adaptive": a series gets stripes only once threads inc/dec it at the same instant) or pass false (one shared cell a series)',
    );
  }
  return { ...base, striped: checkStriping(o) as GaugeStriping };
}

/** A series of a gauge with `striped: false`: its one cell, shared by every thread. */
class SharedSeries implements GaugeSeries {
  constructor(
    private readonly ops: MetricOps,
    private readonly metric: string,
    readonly dataOffset: number,
  ) {}
  set(v: number): void {
    // v - v is 0 for every finite number, NaN for NaN and the infinities.
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.metric, v, 'must be a finite number');
    this.ops.gaugeSet(this.dataOffset, v);
  }
  inc(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.metric, d, 'must be a finite number');
    this.ops.gaugeAdd(this.dataOffset, d);
  }
  dec(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.metric, d, 'must be a finite number');
    this.ops.gaugeAdd(this.dataOffset, -d);
  }
  setToCurrentTime(): void {
    this.ops.gaugeSet(this.dataOffset, Date.now() / 1000);
  }
  startTimer(): () => number {
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      this.ops.gaugeSet(this.dataOffset, s);
      return s;
    };
  }
}

// A set of the adaptive series at `cells`: its stripes cleared first, if it has any, then
// the base cell stored (the header says why in that order). While the series' word is
// clear, one call stores (f64BaseSet); otherwise the word is read and checked here.
function setAdaptive(ops: MetricOps, adaptive: AdaptiveCells, cells: number, v: number): void {
  if (ops.f64BaseSet(cells, v) === 0) return;
  const b = adaptive.block(cells);
  if (b === 0) ops.gaugeSet(cells, v); // refused, or a word that names no block
  else {
    const g = adaptive.geometry;
    ops.f64SetStriped(cells, v, b + g.highOffset, g.stride, g.stripes);
  }
}

/**
 * A series of an adaptive gauge (see the header). `at` is where inc/dec add: -1 the base
 * cell, probing for contention (f64BaseAdd); otherwise the cell it CAS-adds to, probing no
 * more: its own stripe's, or the base cell (no stripe of its own, a refused series, or its
 * stripe handed back). One object, one branch on a field: the call sites stay monomorphic
 * through inflation.
 */
/**
 * What the adaptive children of one gauge share in one thread, kept once per metric
 * instead of in every child (a child's fields cost 8 bytes each in every thread that
 * caches it). `stripe`: the owned stripe slot the children were made under (gaugeSpec).
 */
interface AdaptiveContext {
  readonly ops: MetricOps;
  readonly adaptive: AdaptiveCells;
  readonly stripe: number;
}

/**
 * A series of an adaptive gauge. `at` is -1 while it adds to the base cell by f64BaseAdd
 * (probing), else the cell it adds to with gaugeAdd: its stripe's f64 cell, or the base
 * cell for good (no stripe of its own, refused, or handed back). Three fields.
 */
class AdaptiveSeries implements GaugeSeries {
  private at: number;
  constructor(
    private readonly ctx: AdaptiveContext,
    readonly dataOffset: number,
  ) {
    this.at = ctx.stripe < 0 ? dataOffset : -1;
  }
  /** @internal Its stripe is being handed back: CAS adds to the base cell from now on. */
  retireStripe(): void {
    this.at = this.dataOffset;
  }
  set(v: number): void {
    if (typeof v !== 'number' || v - v !== 0) throw new InvalidValueError(this.ctx.adaptive.metric, v, 'must be a finite number');
    setAdaptive(this.ctx.ops, this.ctx.adaptive, this.dataOffset, v);
  }
  inc(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.ctx.adaptive.metric, d, 'must be a finite number');
    const at = this.at;
    if (at !== -1) this.ctx.ops.gaugeAdd(at, d);
    else if (this.ctx.ops.f64BaseAdd(this.dataOffset, d) !== 0) this.contended();
  }
  dec(n?: number): void {
    const d = n === undefined ? 1 : n;
    if (typeof d !== 'number' || d - d !== 0) throw new InvalidValueError(this.ctx.adaptive.metric, d, 'must be a finite number');
    const at = this.at;
    if (at !== -1) this.ctx.ops.gaugeAdd(at, -d);
    else if (this.ctx.ops.f64BaseAdd(this.dataOffset, -d) !== 0) this.contended();
  }
  setToCurrentTime(): void {
    setAdaptive(this.ctx.ops, this.ctx.adaptive, this.dataOffset, Date.now() / 1000);
  }
  startTimer(): () => number {
    const t0 = performance.now();
    return () => {
      const s = (performance.now() - t0) / 1000;
      setAdaptive(this.ctx.ops, this.ctx.adaptive, this.dataOffset, s);
      return s;
    };
  }
  // An add on the base cell saw contention or the series' block: this child's stripe of
  // the block (given first if the series has none), or, refused, the base cell for good.
  private contended(): void {
    const a = this.ctx.adaptive;
    const at = a.stripeOf(this.dataOffset, this.ctx.stripe);
    this.at = at === 0 ? this.dataOffset : at + a.geometry.highOffset;
  }
}

function gaugeSpec(registry: RegistryCore, def: GaugeDefinition): SeriesSpec<GaugeSeries> {
  const m = registry.ops.metrics;
  if (def.striped === false) {
    return {
      bytes: 8,
      make: (dataOffset) => new SharedSeries(m, def.name, dataOffset),
      read: (dataOffset) => m.gaugeGet(dataOffset),
      tally: (dataOffset) => m.gaugeGet(dataOffset),
      // `set` is not additive: the last store wins, and zero is a store.
      zero: (dataOffset) => m.gaugeSet(dataOffset, 0),
      changeOnly: true,
    };
  }
  const adaptive = new AdaptiveCells(registry, def.name, 1);
  const g = adaptive.geometry;
  let ctx: AdaptiveContext = { ops: m, adaptive, stripe: registry.ownedStripe(true) };
  const read = (dataOffset: number): number => {
    const b = adaptive.block(dataOffset);
    return b === 0 ? m.gaugeGet(dataOffset) : m.f64SumStriped(dataOffset, b + g.highOffset, g.stride, g.stripes);
  };
  return {
    bytes: g.bytes,
    adaptive,
    // The stripe is read when a series is made (counter.ts says why).
    // The stripe is read when a series is made: one made after the stripe was handed back adds to the base.
    make: (dataOffset) => {
      const stripe = registry.ownedStripe(true);
      if (ctx.stripe !== stripe) ctx = { ops: m, adaptive, stripe };
      return new AdaptiveSeries(ctx, dataOffset);
    },
    read,
    tally: read,
    // A set of 0: the stripes cleared, then the base.
    zero: (dataOffset) => setAdaptive(m, adaptive, dataOffset, 0),
    changeOnly: true,
  };
}

/**
 * A gauge shared by every thread (`registry.gauge({ name, help, labelNames })`), with
 * prom-client's call shapes: `set(5)`, `set({ pool: 'a' }, 5)`, `inc()`, `inc(labels, n)`,
 * `dec(...)`, `setToCurrentTime(labels?)`, `startTimer(labels?)`, `labels(...)`.
 */
export class GaugeMetric<T extends string = string> extends Metric<GaugeSeries, T> {
  readonly type = 'gauge' as const;
  /** How each series is striped per thread: once threads contend on its adds (`'adaptive'`, the default) or never (`false`). */
  readonly striped: GaugeStriping;

  /** @internal */
  constructor(registry: RegistryCore, def: GaugeDefinition, familyData: number, spec: SeriesSpec<GaugeSeries>) {
    super(registry, def, familyData, spec);
    this.striped = def.striped;
  }

  set(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).set(value as number);
    else this.plain(value).set(labels);
  }

  inc(labels?: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).inc(value);
    else this.plain(value).inc(labels);
  }

  dec(labels?: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object' && labels !== null) this.series(labels).dec(value);
    else this.plain(value).dec(labels);
  }

  setToCurrentTime(labels?: LabelValues<T>): void {
    this.series(labels).setToCurrentTime();
  }

  /** The returned function sets the gauge (of `labels` merged with `endLabels`) to the seconds elapsed and returns them. */
  startTimer(labels?: LabelValues<T>): (endLabels?: LabelValues<T>) => number {
    const t0 = performance.now();
    return (endLabels?: LabelValues<T>) => {
      const s = (performance.now() - t0) / 1000;
      this.series(endLabels === undefined ? labels : { ...labels, ...endLabels }).set(s);
      return s;
    };
  }

  private plain(second: unknown): GaugeSeries {
    if (second !== undefined) throw new InvalidLabelsError(this.name, 'labels must be an object: (labels, value)');
    return this.series(undefined);
  }

  async get(): Promise<MetricObject> {
    return {
      name: this.name,
      help: this.help,
      type: 'gauge',
      values: this.readAll().map((s) => ({ labels: { ...s.labels }, value: s.value as number })),
      aggregator: 'sum',
    };
  }
}

/** The gauge metrics' kind. */
export const gaugeKind = {
  name: 'gauge',
  code: 7,
  dataBytes: checkedByMetric,
  threadEnded: reapFamily,
  collector: new FamilyCollector((registry, definition): GaugeMetric => gaugeKind.open(registry, definition, true)),

  /** The body of `StatsRegistry.gauge`; `internal`: the package's own families (see defineBase). */
  open<T extends string = string>(registry: RegistryCore, options: unknown, internal = false): GaugeMetric<T> {
    return openMetric(registry, gaugeKind, defineGauge(options, internal), gaugeSpec, GaugeMetric<T>);
  },
} satisfies Kind;
