// The pool's task file. Its module scope runs once per pool thread, when piscina loads it
// in a new thread: that is where to attach and to open the metrics and the breaker. Each
// `attach` takes a stripe of its own (handed back only when the thread ends), and opening
// a metric or a breaker by name is a directory lookup: per task, both would cost far more
// than the counting itself. The handles below are reused by every task the thread runs.
import { threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { CallTimeoutError, CircuitOpenError, StatsRegistry } from 'atomic-stats';
import { BREAKER, CALL_TIMEOUT_MS, DOWNSTREAM_CALLS, JOBS, JOBS_STARTED } from './shared.mjs';

const registry = StatsRegistry.attach(workerData.handle);
const jobs = registry.counter(JOBS);
const finished = {
  ok: jobs.labels({ outcome: 'ok' }),
  failed: jobs.labels({ outcome: 'failed' }),
  timeout: jobs.labels({ outcome: 'timeout' }),
  rejected: jobs.labels({ outcome: 'rejected' }),
};
const started = registry.counter(JOBS_STARTED);
const downstreamCalls = registry.counter(DOWNSTREAM_CALLS);
// Opened by name: the main thread created it, and its config comes with it.
const inventory = registry.circuitBreaker(BREAKER);
// This pool thread's heap, event loop and GC, published every 100 ms into its slot of the
// registry's thread table, where the main thread (or a scrape) reads them. The slot goes
// back with the thread's stripe when the pool retires the thread.
registry.monitorThread({ name: 'pool', intervalMs: 100 });

/**
 * A fake inventory service that fails deterministically, so the example's totals are
 * known in advance. While healthy it answers every job but 7 and 57 (a 503) and 42 (it
 * never answers); down, it answers nothing but 503s; slow, it never answers.
 */
function inventoryService(job, signal) {
  downstreamCalls.inc();
  if (job.service === 'down' || (job.service === 'healthy' && job.id % 50 === 7)) {
    return Promise.reject(new Error('inventory: 503 Service Unavailable'));
  }
  if (job.service === 'slow' || (job.service === 'healthy' && job.id === 42)) {
    // A real client would pass `signal` to fetch(): the call's timeout aborts it.
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }
  // An answer at once: no job can run into its timeout, however busy the machine.
  return Promise.resolve({ sku: job.id, stock: job.id % 7 });
}

/** A synchronous task that holds this thread's event loop for `ms` (an image resized, say). */
export function block({ ms }) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the thread's event loop, its monitor's timer included, runs nothing meanwhile
  }
  return { threadId };
}

export default async function runJob(job) {
  started.inc();
  let outcome;
  try {
    await inventory.call(({ signal }) => inventoryService(job, signal), { timeoutMs: job.timeoutMs ?? CALL_TIMEOUT_MS });
    outcome = 'ok';
  } catch (err) {
    outcome = err instanceof CircuitOpenError ? 'rejected' : err instanceof CallTimeoutError ? 'timeout' : 'failed';
  }
  finished[outcome].inc();
  return { outcome };
}
