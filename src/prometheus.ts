/*
 * atomic-stats/prometheus: exports a registry to a prom-client Registry (or to the
 * Registry of @prometheus-io/client, prom-client's successor, which has the same API).
 *
 * Every family of `registry.collect()` becomes one metric object registered with the
 * prom-client Registry. Nothing is sent to any worker thread: the cells are read in place,
 * so a worker that died still has its counts in the totals.
 *
 * Entries created after registration. prom-client's `metrics()` and `getMetricsAsJSON()`
 * (and `Registry.merge`) start by listing the registered metrics with
 * `getMetricsAsArray()`, and only then ask each one for its values, so a family that is
 * registered while values are being read misses that scrape. This adapter therefore wraps
 * `getMetricsAsArray` on the one Registry instance it was given: the wrapper reads the
 * shared memory once (`registry.collect`), registers the families it has not seen, and
 * then lets the instance's own method list them. Every entry any thread created before a scrape starts
 * is in that scrape. The read is kept for the rest of the synchronous pass (dropped at
 * the next microtask), so each metric's get() takes its family from it: one read per
 * scrape. We chose the wrapper over the alternatives because prom-client 14 and 15 both
 * list through that one method, it changes nothing else of the Registry, and `unregister()`
 * puts it back.
 *
 * Name collisions never break a scrape: a family whose series would share a name with a
 * metric already registered (by the application, or another family) is skipped, with one
 * process warning (code ATOMIC_STATS_NAME_COLLISION) per name, and listed in `skipped`.
 * Names are compared as they appear on the wire: a counter `x_total` also owns `x` (the
 * OpenMetrics family name), a histogram `h` owns `h_bucket`, `h_sum`, `h_count`. A metric
 * the application registers later under a name that collides on the wire makes our family
 * step aside at the next scrape (same warning). One registered later under exactly the
 * name of one of ours never gets that far: prom-client's registerMetric throws "already
 * registered" at the application, and our family stays.
 *
 * Registering the same atomic-stats registry twice on one prom-client Registry returns the
 * export already made (idempotent); with other options it is an InvalidOptionsError.
 *
 * Cost. prom-client renders each series' labels at every scrape; the label objects of the
 * built-in families are the same frozen objects at every collection (see collect.ts), and
 * the text path passes them as prom-client's `sharedLabels`, whose rendered string
 * prom-client caches by object identity, so a series costs a number and a cached string.
 *
 * getSingleMetric. The registered object of a metric you defined (counter, gauge,
 * histogram) is usable as that metric: `register.getSingleMetric(name).inc(...)`,
 * `.labels(...)`, `.observe(...)` and the rest call it in this thread. The adapter wraps
 * the instance's getSingleMetric too: a name it does not know yet makes it register the
 * families defined since the last listing, so a metric defined after registration is
 * found before the first scrape.
 *
 * Reset. prom-client's `register.resetMetrics()` calls reset() on every registered metric.
 * A family of a metric you defined (counter, gauge, histogram) resets it, for every thread,
 * as the metric's own reset() does. The package's own families (atomic_stats_*) count the
 * work of every thread and are not reset: within `resetMetrics()` they are left as they
 * are (the adapter wraps the instance's resetMetrics, as it wraps its listing, and
 * registers the families defined since the last scrape before it lets it run), and a
 * direct reset() of one throws NotResettableError.
 *
 * OpenMetrics. prom-client renames a counter family to its name without `_total` and adds
 * `_total` to each sample when the Registry's content type is OpenMetrics; the family name
 * we report follows the Registry's content type at each read, so there is no `_total_total`.
 *
 * Values: prom-client (like Prometheus itself) carries float64 samples, so a counter above
 * 2^53 is reported rounded to the nearest double — the precision of the protocol, not a
 * silent change of the counter, whose exact value `snapshotBigInt()` gives. A u64 counter
 * that wraps at 2^64 looks like a counter reset, which rate() handles.
 */
import { createRequire } from 'node:module';
import type * as promClient from 'prom-client';
import { checkCollectOptions } from './export/options.js';
import { warnOnce } from './export/warn.js';
import { InvalidOptionsError } from './errors.js';
import { NotResettableError } from './kinds/errors.js';
import type { CollectOptions, Exemplar, HistogramValue, MetricFamily, MetricSample, StatsRegistry, SummaryValue } from './index.js';

export interface PrometheusOptions extends CollectOptions {
  /** The prom-client Registry to register with. Default: prom-client's global `register`. */
  readonly register?: promClient.Registry<promClient.RegistryContentType>;
}

export interface PrometheusExport {
  /** Registers the families of entries created since the last scrape or sync (a scrape does it by itself). */
  sync(): void;
  /** Removes every metric this export registered and restores the Registry's listing. */
  unregister(): void;
  /** Names of the metric families registered. */
  readonly names: readonly string[];
  /** Names of the families skipped because a metric of the Registry already uses their names. */
  readonly skipped: readonly string[];
}

type PromExemplar = { labelSet: Readonly<Record<string, string>>; value: number; timestamp: number };
type PromValue = { value: number; labels: Record<string, string | number>; metricName?: string; sharedLabels?: Readonly<Record<string, string | number>>; exemplar?: PromExemplar };

// An exemplar as prom-client renders it (in the OpenMetrics format only, as prom-client does).
const promExemplar = (e: Exemplar): PromExemplar => ({ labelSet: e.labels, value: e.value, timestamp: e.timestamp });
interface PromMetricObject {
  name: string;
  help: string;
  type: string;
  aggregator: 'sum';
  values: PromValue[];
}

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The sample names a family of this name and type puts on the wire, in either format. */
function wireNames(name: string, type: string): string[] {
  if (type === 'counter') {
    const base = name.endsWith('_total') ? name.slice(0, -6) : name;
    return [base, `${base}_total`];
  }
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

const leLabel = (le: number): number | string => (le === Infinity ? '+Inf' : le);

// Each bucket's labels for the text path, `le` first and then the series' own: one frozen
// object per series and bound, the same at every scrape, so that prom-client renders it
// once (as `sharedLabels`, cached by identity) instead of at every scrape. Keyed by the
// series' label object, which collect() also returns the same at every scrape.
const bucketLabels = new WeakMap<object, Map<number, Readonly<Record<string, string | number>>>>();

function bucketLabelsOf(labels: Readonly<Record<string, string>>, le: number): Readonly<Record<string, string | number>> {
  let byLe = bucketLabels.get(labels);
  if (byLe === undefined) bucketLabels.set(labels, (byLe = new Map()));
  let l = byLe.get(le);
  if (l === undefined) byLe.set(le, (l = Object.freeze({ le: leLabel(le), ...labels })));
  return l;
}

// One histogram series' values, pushed onto `out`: literals of one shape, no spread (a
// scrape makes buckets + 2 of them per series, and a spread costs several times a literal).
function pushHistogram(out: PromValue[], name: string, s: MetricSample, shared: boolean): void {
  const h = s.value as HistogramValue;
  const bucket = `${name}_bucket`;
  if (shared) {
    for (const b of h.buckets) {
      if (b.exemplar === undefined) out.push({ metricName: bucket, labels: NO_LABELS, value: Number(b.count), sharedLabels: bucketLabelsOf(s.labels, b.le) });
      else out.push({ metricName: bucket, labels: NO_LABELS, value: Number(b.count), sharedLabels: bucketLabelsOf(s.labels, b.le), exemplar: promExemplar(b.exemplar) });
    }
    out.push({ metricName: `${name}_sum`, labels: NO_LABELS, value: h.sum, sharedLabels: s.labels });
    out.push({ metricName: `${name}_count`, labels: NO_LABELS, value: Number(h.count), sharedLabels: s.labels });
    return;
  }
  for (const b of h.buckets) {
    const v: PromValue = { metricName: bucket, labels: { ...s.labels, le: leLabel(b.le) }, value: Number(b.count) };
    if (b.exemplar !== undefined) v.exemplar = promExemplar(b.exemplar);
    out.push(v);
  }
  out.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: h.sum });
  out.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: Number(h.count) });
}

// The methods of a metric you define that `register.getSingleMetric(name)` hands on to it
// (get and reset are the registered object's own).
const DELEGATED = ['inc', 'dec', 'set', 'setToCurrentTime', 'observe', 'labels', 'remove', 'zero', 'startTimer', 'quantile', 'seriesCount'] as const;

// Makes the registered object of a user family usable as the metric itself, as
// prom-client's getSingleMetric returns one: its methods call the metric's, in this thread.
function delegate(target: object, user: object): void {
  const m = user as Record<string, unknown>;
  for (const n of DELEGATED) {
    const f = m[n];
    if (typeof f === 'function') Object.defineProperty(target, n, { value: (...a: unknown[]) => (f as (...x: unknown[]) => unknown).apply(user, a) });
  }
  Object.defineProperty(target, 'labelNames', { value: m.labelNames, enumerable: true });
}

// A summary series' quantile labels for the text path: one frozen object per series and
// percentile, `quantile` first, cached like the buckets' above.
const quantileLabels = new WeakMap<object, Map<number, Readonly<Record<string, string | number>>>>();

function quantileLabelsOf(labels: Readonly<Record<string, string>>, q: number): Readonly<Record<string, string | number>> {
  let byQ = quantileLabels.get(labels);
  if (byQ === undefined) quantileLabels.set(labels, (byQ = new Map()));
  let l = byQ.get(q);
  if (l === undefined) byQ.set(q, (l = Object.freeze({ quantile: q, ...labels })));
  return l;
}

// One summary series' values (prom-client's shape: the percentiles, then _sum and _count).
function pushSummary(out: PromValue[], name: string, s: MetricSample, shared: boolean): void {
  const v = s.value as SummaryValue;
  if (shared) {
    for (const q of v.quantiles) out.push({ labels: NO_LABELS, value: q.value, sharedLabels: quantileLabelsOf(s.labels, q.quantile) });
    out.push({ metricName: `${name}_sum`, labels: NO_LABELS, value: v.sum, sharedLabels: s.labels });
    out.push({ metricName: `${name}_count`, labels: NO_LABELS, value: Number(v.count), sharedLabels: s.labels });
    return;
  }
  for (const q of v.quantiles) out.push({ labels: { quantile: q.quantile, ...s.labels }, value: q.value });
  out.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: v.sum });
  out.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: Number(v.count) });
}

interface Entry {
  readonly stats: StatsRegistry;
  readonly prefix: string;
  readonly buses: readonly unknown[];
  readonly exp: PrometheusExport;
}
// Exports per prom-client Registry, for the idempotence check.
const exportsByRegister = new WeakMap<promClient.Registry<promClient.RegistryContentType>, Entry[]>();

/**
 * prom-client's global Registry, the default `register`. Loaded on first use rather than
 * imported, so that an application on another client with prom-client's Registry API
 * (`@prometheus-io/client`), which passes its own Registry, need not install prom-client.
 * Resolved from this file, as an import would be.
 */
function defaultRegister(): promClient.Registry<promClient.RegistryContentType> {
  let mod: typeof promClient;
  try {
    mod = createRequire(import.meta.url)('prom-client') as typeof promClient;
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code !== 'MODULE_NOT_FOUND') throw err;
    throw new InvalidOptionsError('register', 'is required when prom-client is not installed: pass the Registry of the Prometheus client you use (prom-client, @prometheus-io/client)');
  }
  return mod.register;
}

const warnCollision = (name: string, why: string): void =>
  warnOnce(`prometheus:${name}`, `atomic-stats: the family "${name}" is not exported to prom-client: ${why}`, 'ATOMIC_STATS_NAME_COLLISION');

export function registerAtomicStats(stats: StatsRegistry, options?: PrometheusOptions): PrometheusExport {
  const { prefix, buses } = checkCollectOptions(options, ['register']);
  const register = (options?.register ?? defaultRegister()) as promClient.Registry<promClient.RegistryContentType>;
  if (register === null || typeof register !== 'object' || typeof register.registerMetric !== 'function' || typeof register.getMetricsAsArray !== 'function') {
    throw new InvalidOptionsError('register', 'must be a prom-client Registry');
  }
  const collectOptions: CollectOptions = { prefix, buses };

  const list = exportsByRegister.get(register) ?? [];
  const same = list.find((e) => e.stats === stats);
  if (same !== undefined) {
    if (same.prefix === prefix && same.buses.length === buses.length && same.buses.every((b, i) => b === buses[i])) return same.exp;
    throw new InvalidOptionsError('register', 'this prom-client Registry already exports this atomic-stats registry with other options; unregister() that export first');
  }

  // Our metric objects by family name, and the names skipped.
  const ours = new Map<string, PromMetricObject & { get(): Promise<PromMetricObject> }>();
  const skipped = new Set<string>();
  const ourObjects = new WeakSet<object>();
  let lastOthers: readonly unknown[] = [];
  let cache: Map<string, MetricFamily> | undefined;
  let active = true;
  // Whether the last reconcile may have registered or removed a metric (see the hook).
  let changed = false;
  // True while the Registry's resetMetrics() runs (see the header).
  let resetting = false;
  // The Registry's own getSingleMetric (ours wraps it: see the header).
  const ownSingle = register.getSingleMetric;
  const single = (name: string): unknown => ownSingle.call(register, name);

  // One read per scrape pass (see the header). A read that fails must not fail the
  // application's scrape: our families keep their registration and report no samples for
  // this pass, and the failure is a process warning (once per message).
  const read = (listed?: readonly unknown[]): Map<string, MetricFamily> => {
    if (cache === undefined) {
      queueMicrotask(() => {
        cache = undefined;
      });
      try {
        const families = stats.collect(collectOptions);
        const byName = new Map<string, MetricFamily>();
        for (const f of families) byName.set(f.name, f);
        cache = byName;
        changed = reconcile(families, listed);
      } catch (err) {
        cache ??= new Map();
        warnOnce(`collect:${String(err)}`, `atomic-stats: reading the registry for prom-client failed, its families are empty in this scrape: ${String(err)}`, 'ATOMIC_STATS_COLLECT_FAILED');
      }
    }
    return cache;
  };

  const isOpenMetrics = () => (register.contentType as string) === OPENMETRICS;
  const familyName = (name: string, type: string) => (type === 'counter' && isOpenMetrics() && name.endsWith('_total') ? name.slice(0, -6) : name);

  const render = (name: string, type: string, help: string, shared: boolean): PromMetricObject => {
    const family = read().get(name);
    const values: PromValue[] = [];
    if (family !== undefined) {
      if (type === 'histogram') {
        for (const s of family.samples) pushHistogram(values, name, s, shared);
      } else if (type === 'summary') {
        for (const s of family.samples) pushSummary(values, name, s, shared);
      } else if (shared) {
        for (const s of family.samples) {
          if (s.exemplar === undefined) values.push({ value: Number(s.value), labels: NO_LABELS, sharedLabels: s.labels });
          else values.push({ value: Number(s.value), labels: NO_LABELS, sharedLabels: s.labels, exemplar: promExemplar(s.exemplar) });
        }
      } else {
        for (const s of family.samples) {
          if (s.exemplar === undefined) values.push({ value: Number(s.value), labels: { ...s.labels } });
          else values.push({ value: Number(s.value), labels: { ...s.labels }, exemplar: promExemplar(s.exemplar) });
        }
      }
    }
    return { name: familyName(name, type), help, type, aggregator: 'sum', values };
  };

  // Registers new families, and retires ours that now collide with a metric of someone else.
  // `listed`: the Registry's listing, when the caller has it already. False when nothing
  // changed (the common scrape), true when something may have.
  const reconcile = (families: readonly MetricFamily[], listed?: readonly unknown[]): boolean => {
    if (!active) return false;
    const all = (listed ?? ownList.call(register)) as unknown as { name: string; type: string }[];
    const others = all.filter((m) => !ourObjects.has(m));
    // The common scrape: nobody registered or removed anything, and no new family. Nothing to do.
    const othersSame = others.length === lastOthers.length && others.every((m, i) => m === lastOthers[i]);
    const oursIntact = all.length - others.length === ours.size;
    if (othersSame && oursIntact && families.every((f) => ours.has(f.name) || skipped.has(f.name))) return false;
    lastOthers = others;
    // Ours that were removed behind our back (`register.clear()`, removeSingleMetric): they
    // are registered again below, like any family not yet registered. unregister() is the
    // way to stop exporting.
    if (!oursIntact) {
      for (const [name, m] of ours) {
        if (single(name) !== (m as never)) {
          ours.delete(name);
          ourObjects.delete(m);
        }
      }
    }
    const taken = new Map<string, string>(); // wire name -> owning metric
    for (const m of others) {
      for (const n of wireNames(String(m.name), String(m.type))) taken.set(n, String(m.name));
    }
    // Ours that an application metric registered since then now collides with.
    for (const [name, m] of ours) {
      const hit = wireNames(name, m.type).find((n) => taken.has(n));
      if (hit !== undefined) {
        if (single(name) === (m as never)) register.removeSingleMetric(name);
        ours.delete(name);
        skipped.add(name);
        warnCollision(name, `the metric "${taken.get(hit)}" registered later uses the name "${hit}"`);
      }
    }
    for (const [name, m] of ours) for (const n of wireNames(name, m.type)) taken.set(n, name);
    for (const f of families) {
      if (ours.has(f.name) || skipped.has(f.name)) continue;
      const hit = wireNames(f.name, f.type).find((n) => taken.has(n));
      if (hit !== undefined) {
        skipped.add(f.name);
        warnCollision(f.name, `the metric "${taken.get(hit)}" already uses the name "${hit}"`);
        continue;
      }
      const { name, help, type } = f;
      const user = stats.getSingleMetric(name);
      const reset =
        user !== undefined
          ? () => user.reset()
          : () => {
              if (!resetting) throw new NotResettableError(name);
            };
      const metric = {
        name,
        help,
        type,
        aggregator: 'sum' as const,
        values: [],
        // prom-client 15's text path: labels pre-rendered and cached (see above).
        getForPromString: async () => render(name, type, help, true),
        get: async () => render(name, type, help, false),
        reset,
      };
      if (user !== undefined) delegate(metric, user);
      register.registerMetric(metric as unknown as promClient.Metric);
      ours.set(name, metric);
      ourObjects.add(metric);
      for (const n of wireNames(name, type)) taken.set(n, name);
    }
    return true;
  };

  // The listing hook (see the header). `ownList` is whatever the instance listed with
  // before, so hooks of other exports chain.
  const ownList = register.getMetricsAsArray;
  const hooked = function (this: promClient.Registry<promClient.RegistryContentType>) {
    if (!active || this !== register) {
      if (active) read();
      return ownList.call(this);
    }
    // One listing serves both: ours are reconciled against it, and it is what the caller
    // gets, unless that registered or removed a metric (then the Registry lists again).
    const listed = ownList.call(this);
    changed = false;
    read(listed);
    return changed ? ownList.call(this) : listed;
  };
  register.getMetricsAsArray = hooked as typeof register.getMetricsAsArray;
  const ownReset = register.resetMetrics;
  const hookedReset = function (this: promClient.Registry<promClient.RegistryContentType>) {
    // Families defined since the last listing are registered first, so that they reset too.
    if (active && this === register) reconcile(stats.collect(collectOptions));
    resetting = true;
    try {
      return ownReset.call(this);
    } finally {
      resetting = false;
    }
  };
  register.resetMetrics = hookedReset;
  const hookedSingle = function (this: promClient.Registry<promClient.RegistryContentType>, name: string) {
    const found = ownSingle.call(this, name);
    // A family defined since the last listing is registered on the first ask for it.
    if (found !== undefined || !active || this !== register) return found;
    reconcile(stats.collect(collectOptions));
    return ownSingle.call(this, name);
  };
  register.getSingleMetric = hookedSingle as typeof register.getSingleMetric;

  const exp: PrometheusExport = {
    sync: () => {
      if (!active) return;
      reconcile(stats.collect(collectOptions));
    },
    unregister: () => {
      if (!active) return;
      active = false;
      for (const [name, m] of ours) if (single(name) === (m as never)) register.removeSingleMetric(name);
      ours.clear();
      // Restore the listing unless another hook was put over ours (then ours passes through).
      if (register.getMetricsAsArray === hooked) {
        if (Object.getPrototypeOf(register).getMetricsAsArray === ownList) delete (register as { getMetricsAsArray?: unknown }).getMetricsAsArray;
        else register.getMetricsAsArray = ownList;
      }
      if (register.getSingleMetric === (hookedSingle as unknown)) {
        if (Object.getPrototypeOf(register).getSingleMetric === ownSingle) delete (register as { getSingleMetric?: unknown }).getSingleMetric;
        else register.getSingleMetric = ownSingle;
      }
      if (register.resetMetrics === hookedReset) {
        if (Object.getPrototypeOf(register).resetMetrics === ownReset) delete (register as { resetMetrics?: unknown }).resetMetrics;
        else register.resetMetrics = ownReset;
      }
      const l = exportsByRegister.get(register);
      if (l !== undefined) exportsByRegister.set(register, l.filter((e) => e.exp !== exp));
    },
    get names() {
      return [...ours.keys()];
    },
    get skipped() {
      return [...skipped];
    },
  };
  exportsByRegister.set(register, [...list, { stats, prefix, buses, exp }]);
  reconcile(stats.collect(collectOptions));
  return exp;
}
