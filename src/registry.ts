/*
 * StatsRegistry: the registry as users see it. The shared memory, the directory, the
 * owned stripes, attach and close live in the registry core (registry-core.ts); this
 * façade hands the core the table of kinds (kind-table.ts) and adds one thin method per
 * kind of entry, each calling the `open` of the kind's own module, and the registry-wide
 * views over them (the breaker view, collect). Nothing in the package imports this file
 * except the entry point, so the kinds and components sit below it in layers, with no
 * import circle.
 */
import { type CircuitBreaker, type CircuitBreakerConfig, type CircuitBreakerOptions, type SystemCircuitBreakerMetrics, circuitBreakerKind, forceAll, listCircuitBreakers, systemBreakerMetrics } from './breaker/index.js';
import { type CollectOptions, type MetricFamily, collectFamilies } from './export/collect.js';
import { KINDS } from './kind-table.js';
import { type CounterConfiguration, type CounterMetric, counterKind } from './kinds/counter.js';
import { type GaugeConfiguration, type GaugeMetric, gaugeKind } from './kinds/gauge.js';
import { type HistogramConfiguration, type HistogramMetric, histogramKind } from './kinds/histogram.js';
import { addCollect, dropCollects, runCollects, splitCollect } from './collect-callbacks.js';
import { FamilyCollector, type FamilyReader } from './kinds/series.js';
import { type SummaryConfiguration, type SummaryMetric, summaryKind } from './kinds/summary.js';
import { type AttachOptions, type RegistryHandle, type RegistryMemory, type RegistryOptions, RegistryCore, attachRegistryMemory, createRegistryMemory } from './registry-core.js';
import type { CounterSet } from './sets/counter-set.js';
import { type CounterSetOptions, countersKind } from './sets/kind.js';
import { type Bulkhead, type BulkheadConfig, type BulkheadOptions, type RateLimiter, type RateLimiterConfig, type RateLimiterOptions, bulkheadKind, listBulkheads, listRateLimiters, rateLimiterKind } from './resilience/index.js';
import { type EventBusStats, eventBusStatsKind } from './stats/event-bus-stats.js';
import type { StatsOptions } from './stats/open.js';
import { type StepExecutionStats, type StepStatsOptions, stepExecutionStatsKind } from './stats/step-execution-stats.js';
import { type WorkerSubscriberStats, workerSubscriberStatsKind } from './stats/worker-subscriber-stats.js';
import { type StallListener, type ThreadInfo, type ThreadMonitor, type ThreadMonitorOptions, type ThreadWatch, type ThreadWatchOptions, monitorThread, threads, watchThreads } from './threads/index.js';

export type { CollectOption } from './collect-callbacks.js';
export type { AttachOptions, RegistryEntry, RegistryHandle, RegistryOptions, RegistryUsage, SharedWasmMemory } from './registry-core.js';
export type { CounterSetOptions } from './sets/kind.js';

/** A metric a user defines: what `getSingleMetric` returns. */
export type UserMetric = CounterMetric | GaugeMetric | HistogramMetric | SummaryMetric;

/**
 * A registry of shared statistics: one shared memory holding named entries (counter sets,
 * stats structs, circuit breakers, counter / gauge / histogram metrics), usable from every
 * worker thread. Create it once, pass {@link handle} to each worker and
 * {@link StatsRegistry.attach} it there (docs/registry-and-counters.md).
 */
export class StatsRegistry extends RegistryCore {
  private constructor(opened: RegistryMemory) {
    super(opened, KINDS);
  }

  /** Creates a registry on a new shared memory. */
  static create(options?: RegistryOptions): StatsRegistry {
    return new StatsRegistry(createRegistryMemory(options));
  }

  /**
   * Attaches this thread to a registry created elsewhere, from its `handle`. The new
   * object takes a free stripe if there is one (see {@link slot}); attach once per thread
   * and keep the object, or {@link close} it when done (docs/worker-pools.md).
   */
  static attach(handle: RegistryHandle, options?: AttachOptions): StatsRegistry {
    return new StatsRegistry(attachRegistryMemory(handle, options));
  }

  /**
   * Gets or creates the counter set `name` with these fields. Every thread asking for the
   * same name with the same fields and striping gets the same cells; another field list,
   * another striping, or a name used for another kind throws NameConflictError.
   */
  counters<const F extends string>(name: string, fields: readonly F[], options?: CounterSetOptions): CounterSet<F> {
    return countersKind.open(this, name, fields, options);
  }

  /**
   * Gets or creates the circuit breaker `name`, shared by every thread of the registry
   * (docs/circuit-breaker.md). Without a config (`undefined`), an existing breaker
   * is returned with whatever config it was created with, by any thread, and a new one
   * gets the defaults. With a config, another config for the same name throws
   * NameConflictError. `options` are this thread's (clock, isFailure).
   */
  circuitBreaker(name: string, config?: CircuitBreakerConfig, options?: CircuitBreakerOptions): CircuitBreaker {
    this.checkOpen();
    return circuitBreakerKind.open(this, name, config, options);
  }

  /** Every circuit breaker any thread created in this registry, by name, each with its own config. */
  circuitBreakers(): CircuitBreaker[] {
    return listCircuitBreakers(this);
  }

  /** One snapshot of every circuit breaker and the totals over them; see SystemCircuitBreakerMetrics. */
  circuitBreakerMetrics(): SystemCircuitBreakerMetrics {
    return systemBreakerMetrics(this);
  }

  /** Forces every circuit breaker of the registry Open (as `forceOpen` does); returns how many. */
  forceOpenAll(): number {
    return forceAll(this, true);
  }

  /** Forces every circuit breaker of the registry Closed (as `forceClosed` does); returns how many. */
  forceClosedAll(): number {
    return forceAll(this, false);
  }

  /**
   * Gets or creates the bulkhead `name`, shared by every thread of the registry: at most
   * `maxConcurrent` calls at once, all threads together, and one FIFO queue of `maxQueued`
   * (docs/resilience.md). Without a config, an existing bulkhead is returned with the config
   * it was created with (none yet: InvalidOptionsError). With a config, another config for
   * the same name throws NameConflictError. `options` are this thread's (clock).
   */
  bulkhead(name: string, config?: BulkheadConfig, options?: BulkheadOptions): Bulkhead {
    return bulkheadKind.open(this, name, config, options);
  }

  /** Every bulkhead any thread created in this registry, by name, each with its own config. */
  bulkheads(): Bulkhead[] {
    return listBulkheads(this);
  }

  /**
   * Gets or creates the rate limiter `name`, shared by every thread of the registry: one
   * token bucket of `burst` tokens refilled at `tokensPerInterval` per `intervalMs`
   * (docs/resilience.md). Without a config, an existing limiter is returned with the
   * config it was created with (none yet: InvalidOptionsError). With a config, another
   * config for the same name throws NameConflictError. `options` are this thread's (clock).
   */
  rateLimiter(name: string, config?: RateLimiterConfig, options?: RateLimiterOptions): RateLimiter {
    return rateLimiterKind.open(this, name, config, options);
  }

  /** Every rate limiter any thread created in this registry, by name. */
  rateLimiters(): RateLimiter[] {
    return listRateLimiters(this);
  }

  /** Gets or creates the step execution stats `name` (striped by default); see StepExecutionStats. */
  stepExecutionStats(name: string, options?: StepStatsOptions): StepExecutionStats {
    return stepExecutionStatsKind.open(this, name, options);
  }

  /** Gets or creates the event-bus stats `name` (striped by default); see EventBusStats. */
  eventBusStats(name: string, options?: StatsOptions): EventBusStats {
    return eventBusStatsKind.open(this, name, options);
  }

  /** Gets or creates the completion-listener stats `name` (striped by default); see WorkerSubscriberStats. */
  workerSubscriberStats(name: string, options?: StatsOptions): WorkerSubscriberStats {
    return workerSubscriberStatsKind.open(this, name, options);
  }

  /**
   * Gets or creates the counter metric `name`, shared by every thread (docs/metrics.md).
   * The same definition from any thread is the same metric; another throws NameConflictError.
   */
  counter<T extends string = string>(configuration: CounterConfiguration<T>): CounterMetric<T> {
    this.checkOpen();
    return this.withCollect(configuration, (c) => counterKind.open<T>(this, c));
  }

  /** Gets or creates the gauge metric `name`, shared by every thread (docs/metrics.md). */
  gauge<T extends string = string>(configuration: GaugeConfiguration<T>): GaugeMetric<T> {
    this.checkOpen();
    return this.withCollect(configuration, (c) => gaugeKind.open<T>(this, c));
  }

  /** Gets or creates the histogram metric `name`, shared by every thread (docs/metrics.md). */
  histogram<T extends string = string>(configuration: HistogramConfiguration<T>): HistogramMetric<T> {
    this.checkOpen();
    return this.withCollect(configuration, (c) => histogramKind.open<T>(this, c));
  }

  /**
   * Gets or creates the summary metric `name`, shared by every thread: percentiles over a
   * sliding window, read from time slices of a native-schema histogram (docs/metrics.md).
   */
  summary<T extends string = string>(configuration: SummaryConfiguration<T>): SummaryMetric<T> {
    this.checkOpen();
    return this.withCollect(configuration, (c) => summaryKind.open<T>(this, c));
  }

  /**
   * The metric `name` (a counter, gauge, histogram or summary any thread defined), opened in this
   * thread with its own definition, as prom-client's `register.getSingleMetric(name)`
   * returns a metric; undefined when no metric has that name.
   */
  getSingleMetric(name: string): UserMetric | undefined {
    this.checkOpen();
    if (typeof name !== 'string') return undefined;
    const r = this.directory.find(name);
    if (r === undefined) return undefined;
    const checked = this.checkedRecord(r);
    if (typeof checked === 'string') return undefined;
    const c = checked.entryKind.collector;
    return c instanceof FamilyCollector ? (c.family(this, checked) as unknown as UserMetric | undefined) : undefined;
  }

  /**
   * prom-client's `register.resetMetrics()`: every metric any thread defined is reset, for
   * every thread (each as its own `reset()` does: labelled series removed, an unlabelled
   * one zeroed). The package's own families (counter sets, stats, breakers) are left as
   * they are: they count the work of every thread.
   */
  resetMetrics(): void {
    this.checkOpen();
    for (const f of this.userFamilies()) f.metric.reset();
  }

  // Opens a metric from `configuration` without its collect options, then registers its
  // callback (collect-callbacks.ts): a bad option is refused before anything is opened.
  private withCollect<M extends object>(configuration: unknown, open: (c: never) => M): M {
    const { rest, collect, intervalMs } = splitCollect(configuration);
    const metric = open(rest as never);
    if (collect !== undefined) addCollect(this, this.views.i32.buffer, metric, collect, intervalMs);
    return metric;
  }

  /** Stops this object's collect timers and drops its callbacks, then closes it (see RegistryCore.close). */
  override close(): void {
    dropCollects(this);
    super.close();
  }

  // Every user metric family of the directory, opened in this thread.
  private userFamilies(): { name: string; metric: UserMetric }[] {
    const out: { name: string; metric: UserMetric }[] = [];
    for (const r of this.checkedRecords()) {
      const c = r.entryKind.collector;
      if (!(c instanceof FamilyCollector)) continue;
      const m: FamilyReader | undefined = c.family(this, r);
      if (m !== undefined) out.push({ name: r.name, metric: m as unknown as UserMetric });
    }
    return out;
  }

  /**
   * Monitors the calling thread: every `intervalMs` (default 1 s, on an unref'd timer) it
   * publishes its heartbeat, heap, event-loop utilisation and delay, GC pauses and active
   * resources into its slot of the registry's thread table, which `threads()`,
   * `watchThreads()` and every exporter read from any thread (docs/thread-health.md). The
   * thread's slot is this registry object's stripe; one monitor per thread
   * (ThreadMonitorError for a second). Stopped by `monitor.stop()`, by `close()`, and by
   * the thread's end.
   */
  monitorThread(options?: ThreadMonitorOptions): ThreadMonitor {
    return monitorThread(this, options);
  }

  /** Every monitored thread's figures as its slot shows them now, alive or ended, in slot order (docs/thread-health.md). */
  threads(): ThreadInfo[] {
    return threads(this);
  }

  /**
   * Calls `callback` once per stall of a monitored thread: when a thread that is alive has
   * not published for `stallMs` past its interval, with its last figures. Never for a
   * thread that ended. Polls from this thread, on an unref'd timer (docs/thread-health.md).
   */
  watchThreads(options: ThreadWatchOptions | undefined, callback: StallListener): ThreadWatch {
    return watchThreads(this, options, callback);
  }

  /**
   * One read of every entry of the registry, created by any thread, as metric families
   * (what the Prometheus and OpenTelemetry adapters export). Reads the shared memory
   * only: no message to any worker. See `collectFamilies` for the naming.
   */
  collect(options?: CollectOptions): MetricFamily[] {
    this.checkOpen();
    // The collect callbacks of this thread first (collect-callbacks.ts).
    runCollects(this.views.i32.buffer);
    return collectFamilies(this, options);
  }
}
