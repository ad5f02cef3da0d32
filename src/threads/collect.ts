/*
 * How a scrape exports the thread table: every monitored thread's figures, and once per
 * scrape the process's own.
 *
 * Names. Where prom-client's collectDefaultMetrics() has a family for a figure, it has
 * the same name here, with a `thread` label added (nodejs_heap_size_used_bytes,
 * nodejs_eventloop_lag_p99_seconds, nodejs_gc_duration_seconds{kind}, ...): a dashboard
 * built on prom-client's names works per thread, and summed over `thread` for the
 * process. Figures prom-client has no name for are ours, under the collect prefix
 * (atomic_stats_thread_heartbeat_age_seconds, ..._eventloop_utilization_ratio,
 * ..._eventloop_delay_seconds, ..._heap_limit_bytes, ..._info). prom-client's
 * nodejs_active_resources_total (a gauge named like a counter, which promtool refuses)
 * is left out: nodejs_active_resources{thread} carries the total per thread, without
 * prom-client's `type` split. The heap-space families are left out too (eight spaces
 * per thread would multiply the series for a figure few dashboards use).
 *
 * The `thread` label is the slot (table.ts): its values are bounded by the registry's
 * stripes, whatever number of threads a pool goes through. Gauges are exported for the
 * slots whose thread is alive, so a thread that ended has none from the next scrape on;
 * the cumulative histograms for every slot ever used, so their totals never fall.
 * `atomic_stats_thread_info{thread, thread_id, name}` says which thread holds each slot.
 *
 * Process-wide figures (CPU, resident memory, start time, the runtime's version) are read
 * by the scraping thread, once per scrape, under prom-client's names and without a
 * `thread` label: every thread of a process would report the same numbers. They are
 * exported only with the thread table, i.e. once some thread has been monitored.
 */
import type { HistogramValue, MetricSample, MetricType } from '../family.js';
import type { CheckedRecord, FamilySink } from '../kind.js';
import type { RegistryCore } from '../registry-core.js';
import { monotonicClock } from '../clock.js';
import {
  DELAY_BOUNDS,
  F_DELAY_MAX,
  F_DELAY_MEAN,
  F_DELAY_MIN,
  F_DELAY_P50,
  F_DELAY_P90,
  F_DELAY_P99,
  F_DELAY_STDDEV,
  F_ELU,
  F_EXTERNAL,
  F_HEAP_LIMIT,
  F_HEAP_TOTAL,
  F_HEAP_USED,
  F_HEARTBEAT,
  F_LAG,
  GC_BOUNDS,
  GC_KINDS,
  TABLE_LAYOUT,
  gcCell,
} from './layout.js';
import { emitProcessFigures } from './process-figures.js';
import { ThreadTable } from './table.js';

type Labels = Readonly<Record<string, string>>;

interface GaugeSpec {
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  readonly integer: boolean;
  /** The F_* figure it exports (seconds figures are stored in seconds). */
  readonly figure: number;
}

/** The per-thread gauges taken straight from a slot's figures, in export order. */
const GAUGES: readonly GaugeSpec[] = [
  { name: 'nodejs_heap_size_total_bytes', help: "V8 heap size of each monitored thread's isolate, in bytes.", unit: 'By', integer: true, figure: F_HEAP_TOTAL },
  { name: 'nodejs_heap_size_used_bytes', help: "V8 heap used by each monitored thread's isolate, in bytes.", unit: 'By', integer: true, figure: F_HEAP_USED },
  { name: 'nodejs_external_memory_bytes', help: "External memory of each monitored thread's isolate, in bytes.", unit: 'By', integer: true, figure: F_EXTERNAL },
  { name: 'nodejs_eventloop_lag_seconds', help: "How late each monitored thread's last heartbeat timer ran, in seconds.", unit: 's', integer: false, figure: F_LAG },
  { name: 'nodejs_eventloop_lag_min_seconds', help: "The minimum recorded event loop delay over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_MIN },
  { name: 'nodejs_eventloop_lag_max_seconds', help: "The maximum recorded event loop delay over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_MAX },
  { name: 'nodejs_eventloop_lag_mean_seconds', help: "The mean of the recorded event loop delays over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_MEAN },
  { name: 'nodejs_eventloop_lag_stddev_seconds', help: "The standard deviation of the recorded event loop delays over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_STDDEV },
  { name: 'nodejs_eventloop_lag_p50_seconds', help: "The 50th percentile of the recorded event loop delays over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_P50 },
  { name: 'nodejs_eventloop_lag_p90_seconds', help: "The 90th percentile of the recorded event loop delays over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_P90 },
  { name: 'nodejs_eventloop_lag_p99_seconds', help: "The 99th percentile of the recorded event loop delays over each monitored thread's last interval.", unit: 's', integer: false, figure: F_DELAY_P99 },
];

// A histogram value from non-cumulative bucket cells (sum loaded first: table.ts).
function histogram(table: ThreadTable, slot: number, first: number, bounds: readonly number[]): HistogramValue {
  const sum = table.sum(slot, first + bounds.length + 1);
  const buckets: { le: number; count: bigint }[] = [];
  let running = 0n;
  for (let i = 0; i <= bounds.length; i++) {
    running += table.count(slot, first + i);
    buckets.push({ le: i < bounds.length ? bounds[i]! : Infinity, count: running });
  }
  return { buckets, sum, count: running };
}

/** The thread table's collector (see the header). */
export function prepareThreadTable(registry: RegistryCore, prefix: string, record: CheckedRecord): ((out: FamilySink) => void) | undefined {
  if (record.descriptor.layout !== TABLE_LAYOUT) return undefined;
  const table = new ThreadTable(registry.views.i32.buffer, record.dataOffset, registry.stripes, registry.table);
  const slots = table.slots;
  const ours = {
    heartbeat: `${prefix}thread_heartbeat_age_seconds`,
    utilization: `${prefix}thread_eventloop_utilization_ratio`,
    heapLimit: `${prefix}thread_heap_limit_bytes`,
    info: `${prefix}thread_info`,
    slots: `${prefix}thread_slots`,
    delay: `${prefix}thread_eventloop_delay_seconds`,
  };
  // Frozen label objects, the same at every scrape (export/collect.ts says why).
  const threadLabels: Labels[] = [];
  const gcLabels: Labels[][] = [];
  for (let s = 0; s < slots; s++) {
    const thread = String(s);
    threadLabels.push(Object.freeze({ thread }));
    gcLabels.push(GC_KINDS.map((kind) => Object.freeze({ thread, kind })));
  }
  // The info labels of each slot, remade only when another thread (or name) holds it.
  const infoLabels: (Labels | undefined)[] = new Array<Labels | undefined>(slots);
  const noLabels: Labels = Object.freeze({});

  return (out) => {
    emitProcessFigures(out);
    out.add(ours.slots, 'gauge', 'Slots of the thread table: the most threads monitored at once, and the most values the thread label takes.', '{thread}', noLabels, slots, true);
    const fam = (name: string, type: MetricType, help: string, unit: string, integer: boolean): MetricSample[] => out.samples(name, type, help, unit, integer);
    const gauges = GAUGES.map((g) => fam(g.name, 'gauge', g.help, g.unit, g.integer));
    const active = fam('nodejs_active_resources', 'gauge', "Resources keeping each monitored thread's event loop alive (timers, sockets, ports...).", '{resource}', true);
    const heartbeat = fam(ours.heartbeat, 'gauge', "Seconds since each monitored thread's last heartbeat: up to its interval while its event loop runs, growing while it is stalled.", 's', false);
    const utilization = fam(ours.utilization, 'gauge', "Share of each monitored thread's last interval its event loop spent running, 0 to 1.", '1', false);
    const heapLimit = fam(ours.heapLimit, 'gauge', "V8 heap size limit of each monitored thread's isolate, in bytes.", 'By', true);
    const info = fam(ours.info, 'gauge', 'The thread that holds each slot of the thread table: its threadId and name; always 1.', '1', true);
    const gc = fam('nodejs_gc_duration_seconds', 'histogram', 'Garbage collection duration by kind, one of major, minor, incremental or weakcb, per slot of the thread table.', 's', false);
    const delay = fam(ours.delay, 'histogram', 'Event loop delay samples (the whole wait, every delayResolutionMs) of the threads that held each slot, in seconds.', 's', false);
    const now = monotonicClock();
    for (let s = 0; s < slots; s++) {
      if (table.publications(s) === 0) continue;
      const f = table.read(s);
      if (f !== undefined && table.alive(s, f)) {
        const labels = threadLabels[s]!;
        const v = f.values;
        for (let g = 0; g < GAUGES.length; g++) gauges[g]!.push({ labels, value: v[GAUGES[g]!.figure]! });
        active.push({ labels, value: f.activeResources });
        heartbeat.push({ labels, value: Math.max(0, now - v[F_HEARTBEAT]!) / 1000 });
        utilization.push({ labels, value: v[F_ELU]! });
        heapLimit.push({ labels, value: v[F_HEAP_LIMIT]! });
        let il = infoLabels[s];
        const threadId = String(f.threadId);
        if (il === undefined || il.thread_id !== threadId || il.name !== f.name) infoLabels[s] = il = Object.freeze({ thread: String(s), thread_id: threadId, name: f.name });
        info.push({ labels: il, value: 1 });
      }
      // Every slot ever used, alive or not: cumulative counts stay (see the header).
      for (let k = 0; k < GC_KINDS.length; k++) gc.push({ labels: gcLabels[s]![k]!, value: histogram(table, s, gcCell(k), GC_BOUNDS) });
      delay.push({ labels: threadLabels[s]!, value: histogram(table, s, 0, DELAY_BOUNDS) });
    }
  };
}
