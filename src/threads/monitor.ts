/*
 * A thread's monitor: the writer of its slot of the thread table (table.ts).
 *
 * It writes on one timer of its own, every `intervalMs`, and nowhere else: no counter,
 * metric or breaker call of the thread does any work for it. The timer is unref'd, so a
 * monitor never keeps a thread or the process alive, and each tick measures the thread
 * (sampler.ts), adds the interval's delay samples and GC pauses to the slot's cumulative
 * cells (buckets before sums, as table.ts requires), and publishes the figures with the
 * heartbeat, the time of the tick on the clock every thread shares (clock.ts).
 *
 * The heartbeat is written only by a tick, and a tick runs only when the event loop
 * does: a loop stuck in a synchronous task publishes nothing, and its heartbeat ages
 * while the task runs. That age is the stall signal (watch.ts); how late the tick ran
 * (its timer's lateness) is exported as the loop's lag.
 *
 * Its slot is its registry object's stripe (table.ts says why), and the monitor is one of
 * the "writers" of that stripe (registry-core.ts trackWriter): before the stripe is
 * handed back (close(), the thread's normal exit) the registry stops the monitor, which
 * publishes a last, stopped set of figures. The monitor holds its registry object, so an
 * application that keeps only the monitor still has its stripe handed back on exit.
 */
import { threadId } from 'node:worker_threads';
import { monotonicClock } from '../clock.js';
import { warnOnce } from '../export/warn.js';
import type { RegistryCore } from '../registry-core.js';
import { ThreadMonitorError } from './errors.js';
import { DELAY_BOUNDS, DELAY_CELLS, F64_COUNT, F_HEARTBEAT, F_LAG, F_STARTED, GC_BOUNDS, GC_KINDS, STATE_RUNNING, STATE_STOPPED, gcCell } from './layout.js';
import { type MonitorConfig, type ThreadMonitorOptions, checkMonitorOptions } from './options.js';
import { Sampler, activeResources } from './sampler.js';
import type { Publication, ThreadTable } from './table.js';

export type { ThreadMonitorOptions } from './options.js';

/** A running (or stopped) monitor of the thread that started it; see `registry.monitorThread`. */
export class ThreadMonitor {
  /** The thread's slot in the registry's thread table (its `thread` label), or -1 when it got none. */
  readonly slot: number;
  readonly name: string;
  readonly intervalMs: number;
  private running: boolean;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly sampler: Sampler | undefined;
  private readonly publication: Publication;
  private due = 0;

  /** @internal Held only to keep the registry object reachable for as long as the monitor is (see the header). */
  readonly registry: RegistryCore | undefined;
  private readonly table: ThreadTable | undefined;

  /** @internal Made by `registry.monitorThread`. */
  constructor(registry: RegistryCore | undefined, table: ThreadTable | undefined, slot: number, config: MonitorConfig) {
    this.registry = registry;
    this.table = table;
    this.slot = slot;
    this.name = config.name;
    this.intervalMs = config.intervalMs;
    this.publication = {
      state: STATE_RUNNING,
      threadId,
      intervalMs: config.intervalMs,
      name: config.nameBytes,
      activeResources: 0,
      delayResolutionMs: config.delayResolutionMs,
      values: new Float64Array(F64_COUNT),
    };
    this.running = table !== undefined && slot >= 0;
    if (!this.running) return;
    this.sampler = new Sampler(config.delayResolutionMs);
    const now = monotonicClock();
    this.publication.values[F_STARTED] = now;
    this.write(now);
    this.timer = setInterval(() => this.tick(), config.intervalMs);
    this.timer.unref();
  }

  /** True until {@link stop} (or the registry object's close) has run; false from the start for a monitor without a slot. */
  get active(): boolean {
    return this.running;
  }

  private tick(): void {
    try {
      this.write(monotonicClock());
    } catch (err) {
      // Only a bug gets here; it must not become an exception in the application's thread.
      warnOnce(`monitor:${String(err)}`, `atomic-stats: a thread monitor failed to publish: ${String(err)}`, 'ATOMIC_STATS_THREAD_MONITOR_FAILED');
    }
  }

  // Measures, adds the interval's samples, publishes. The first write is at start (due 0: no lag).
  private write(now: number): void {
    const p = this.publication;
    const v = p.values;
    v[F_LAG] = this.due === 0 ? 0 : Math.max(0, now - this.due) / 1000;
    this.due = now + this.intervalMs;
    v[F_HEARTBEAT] = now;
    try {
      this.sampler!.sample(v);
      p.activeResources = activeResources();
    } catch (err) {
      // A runtime's instrument that misbehaves (as Bun's delay histogram once did, with
      // bigint values) costs only the figures it feeds, which keep their last values. The
      // heartbeat must go on, or a thread that is running would read as stalled, and so
      // must a stop's last publication, or close() would throw before the stripe goes back.
      warnOnce(
        `monitor-sample:${String(err)}`,
        `atomic-stats: a thread monitor could not measure its thread: ${String(err)} (its figures keep their last values; the heartbeat goes on)`,
        'ATOMIC_STATS_THREAD_MONITOR_FAILED',
      );
    }
    this.flush();
    this.table!.publish(this.slot, p);
  }

  // The interval's delay samples and GC pauses into the slot's cells: every bucket, then the sums.
  private flush(): void {
    const t = this.table!;
    const s = this.slot;
    const pending = this.sampler!.pending;
    for (let i = 0; i <= DELAY_BOUNDS.length; i++) t.add(s, i, pending.delayCounts[i]!);
    const width = GC_BOUNDS.length + 1;
    for (let k = 0; k < GC_KINDS.length; k++) for (let i = 0; i < width; i++) t.add(s, gcCell(k) + i, pending.gcCounts[k * width + i]!);
    t.addSum(s, DELAY_CELLS - 1, pending.delaySum);
    for (let k = 0; k < GC_KINDS.length; k++) t.addSum(s, gcCell(k) + width, pending.gcSums[k]!);
    this.sampler!.clearPending();
  }

  /**
   * Stops the monitor: the thread publishes a last set of figures, marked stopped, and
   * then nothing more; its gauges leave the next scrape (its slot's cumulative counts
   * stay). Idempotent. The registry object's `close()` and the thread's exit call it too.
   */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.sampler!.stop();
    this.publication.state = STATE_STOPPED;
    this.write(monotonicClock());
  }

  /** The same as {@link stop}, for `using monitor = registry.monitorThread(...)`. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /** @internal The registry object hands its stripe back: the slot goes with it (see the header). */
  retireStripe(): void {
    this.stop();
  }
}

/**
 * The body of `registry.monitorThread`: starts monitoring the calling thread into the
 * table `openTable` gets or creates (only once the options passed their checks).
 */
export function startMonitor(registry: RegistryCore, openTable: () => ThreadTable, options: ThreadMonitorOptions | undefined): ThreadMonitor {
  registry.checkOpen();
  const config = checkMonitorOptions(options);
  const slot = registry.ownedStripe(true);
  if (slot < 0) {
    warnOnce(
      `no-thread-slot:${threadId}`,
      `atomic-stats: thread ${threadId} ("${config.name}") is not monitored: its registry object holds no stripe (every one was held when it attached), and a thread's slot is its stripe. Give the registry more stripes (docs/thread-health.md).`,
      'ATOMIC_STATS_NO_THREAD_SLOT',
    );
    return new ThreadMonitor(undefined, undefined, -1, config);
  }
  const table = openTable();
  // One monitor per thread: a second would give the thread two slots and two labels.
  for (let s = 0; s < table.slots; s++) {
    const f = table.read(s);
    if (f !== undefined && f.threadId === threadId && table.alive(s, f)) {
      throw new ThreadMonitorError(`this thread (threadId ${threadId}) is monitored already, as "${f.name}" in slot ${s}: stop() that monitor first`, s);
    }
  }
  const monitor = new ThreadMonitor(registry, table, slot, config);
  registry.trackWriter(monitor);
  return monitor;
}
