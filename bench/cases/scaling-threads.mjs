// Scaling with threads: how each hot path's cost grows from 1 thread to 2 and to N (the
// machine's available parallelism; on a machine with 2 CPUs or fewer, also 4 threads,
// more threads than CPUs: an oversubscribed point).
//
// One table per operation, whose variants are the thread counts (mixThreads: they run
// interleaved in one group, in rotated order), so each "vs 1 thread" ratio is a same-run
// ratio. ns/op is the aggregate figure: a round's wall time over the operations of all
// its threads, so perfect scaling on free CPUs halves it from 1 to 2 threads (ratio
// 0.5×), a cost that does not scale keeps it (1×), and contention raises it (> 1×).
//
// Every operation runs on the default backend, in one registry per variant whose threads
// all use the same entry. The registry is created with enough owned stripes for every
// attachment the variant makes (the creator, each thread, verify()), as the stripes option
// advises, so no thread of a striped entry falls back to the shared stripe. verify()
// requires the exact final counts.
import os from 'node:os';
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';

const NAME = 'bench';
const FIELDS = ['hits'];
const MS = 3; // what each recordSuccess records
const DURATION = 100; // ns each guarded operation records

// The harness runs at most 64 threads per variant.
const cpus = Math.min(os.availableParallelism(), 64);
/** The thread counts every table shows: 1, 2 and N, and 4 (oversubscribed) when N ≤ 2. */
export const THREADS = [...new Set([1, 2, cpus, ...(cpus <= 2 ? [4] : [])])].sort((a, b) => a - b);
const MAX_THREADS = Math.max(...THREADS);

function threadLabel(t) {
  const base = `${t} thread${t > 1 ? 's' : ''}`;
  if (t > cpus) return `${base} (oversubscribed: ${cpus} CPU${cpus > 1 ? 's' : ''})`;
  if (t === cpus && t > 2) return `${base} (one per CPU)`;
  return base;
}

// Owned stripes for the creator, every thread and verify()'s attachment: a power of two.
function stripesFor(threads) {
  let s = 2;
  while (s < threads + 2) s *= 2;
  return s;
}

const OPS = [
  ['inc-striped', 'Counter.inc, striped set'],
  ['inc-one', 'Counter.inc, one shared cell'],
  ['step', 'StepExecutionStats.recordSuccess (striped, the default)'],
  ['guard', 'breaker guard: tryAcquire + recordSuccess, one shared breaker'],
  ['publish', 'InProcessEventBus.publish with stats (a bus per thread, one shared name)'],
];

export const cases = OPS.flatMap(([op, what]) =>
  THREADS.map((t) => ({
    id: `threads/${op}/${t}`,
    table: `scaling with threads: ${what}`,
    variant: threadLabel(t),
    threads: [t],
    mixThreads: true,
    ...(t === 1 ? { baseline: true } : {}),
  })),
);

const opOf = (id) => id.split('/')[1];

const EVENT = {
  event_id: '00000000-0000-4000-8000-000000000000',
  event_name: 'order.created',
  event_version: '1.0',
  payload: { amount: 1 },
  metadata: { task_uuid: 't', namespace: 'bench', correlation_id: 'c', fired_at: '1970-01-01T00:00:00.000Z', fired_by: 'bench' },
};

function open(registry, op) {
  if (op === 'inc-striped' || op === 'inc-one') return registry.counters(NAME, FIELDS, { striped: op === 'inc-striped' });
  if (op === 'step') return registry.stepExecutionStats(NAME);
  if (op === 'guard') return registry.circuitBreaker(NAME);
  return registry.eventBusStats(NAME);
}

export async function setup(id) {
  // The same stripe count for every row of a table, so rows differ in threads only.
  const registry = StatsRegistry.create({ stripes: stripesFor(MAX_THREADS) });
  open(registry, opOf(id));
  return { handle: registry.handle };
}

export async function prepare(id, data) {
  const op = opOf(id);
  const registry = StatsRegistry.attach(data.handle);
  if (op === 'inc-striped' || op === 'inc-one') {
    const counter = open(registry, op).counter('hits');
    return {
      run(n) {
        for (let i = 0; i < n; i++) counter.inc();
      },
    };
  }
  if (op === 'step') {
    const stats = open(registry, op);
    return {
      run(n) {
        for (let i = 0; i < n; i++) stats.recordSuccess(MS);
      },
    };
  }
  if (op === 'guard') {
    const breaker = open(registry, op);
    let rejected = 0;
    return {
      run(n) {
        for (let i = 0; i < n; i++) {
          if (breaker.tryAcquire()) breaker.recordSuccess(DURATION);
          else rejected++;
        }
      },
      report: () => rejected,
    };
  }
  // Each thread has its own bus; all record into the event-bus stats of the shared name.
  let handled = 0;
  const bus = new InProcessEventBus({ registry, name: NAME });
  bus.subscribe('order.*', () => {
    handled++;
  });
  return {
    run(n) {
      for (let i = 0; i < n; i++) bus.publish(EVENT);
    },
    report: () => handled,
  };
}

export async function verify(id, data, totalOps, reports) {
  const op = opOf(id);
  const entry = open(StatsRegistry.attach(data.handle), op);
  const n = BigInt(totalOps);
  const fail = (what, got, want) => {
    if (got !== want) throw new Error(`${id}: ${what} is ${got}, expected ${want}`);
  };
  if (op === 'inc-striped' || op === 'inc-one') {
    fail('the count', entry.counter('hits').valueBigInt(), n);
  } else if (op === 'step') {
    const s = entry.snapshotBigInt();
    fail('total_executed', s.total_executed, n);
    fail('total_succeeded', s.total_succeeded, n);
    fail('total execution time', entry.totalExecutionTimeMs(), n * BigInt(MS));
  } else if (op === 'guard') {
    // Nothing fails, so the breaker never opens: every operation took a permit.
    fail('rejected permits (threads)', reports.reduce((a, b) => a + b, 0), 0);
    const m = entry.metricsBigInt();
    fail('total_calls', m.total_calls, n);
    fail('success_count', m.success_count, n);
    fail('rejected_calls', m.rejected_calls, 0n);
    fail('total_duration_nanos', m.total_duration_nanos, n * BigInt(DURATION));
    fail('state', m.current_state, 'Closed');
  } else {
    fail('handler calls', reports.reduce((a, b) => a + b, 0), totalOps);
    fail('total_events_dispatched', entry.snapshotBigInt().total_events_dispatched, n);
  }
}
