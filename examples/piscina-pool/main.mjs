// A piscina pool whose jobs share one registry: they count into labelled counters and call
// an inventory service through one circuit breaker, shared by every pool thread, and each
// pool thread monitors its own health. The main thread reads the totals and the threads'
// figures from the shared memory, without asking any thread, and prints them as JSON. Run
// with `node examples/piscina-pool/main.mjs` after a build.
//
// atomic-stats is imported before the pool is created, and the main thread keeps its
// registry: when the pool terminates a thread (idle, or its task cancelled), the thread
// that created it is the one that hands that thread's stripe back.
import { StatsRegistry } from 'atomic-stats';
import { Piscina } from 'piscina';
import { BREAKER, BREAKER_CONFIG, DOWNSTREAM_CALLS, JOBS, JOBS_STARTED } from './shared.mjs';

const registry = StatsRegistry.create();
const inventory = registry.circuitBreaker(BREAKER, BREAKER_CONFIG);
const jobs = registry.counter(JOBS);
const started = registry.counter(JOBS_STARTED);
const downstreamCalls = registry.counter(DOWNSTREAM_CALLS);

// Every thread the pool starts: each must attach exactly once (at its task file's module
// scope), however many jobs it runs.
let poolThreads = 0;
process.on('worker', () => poolThreads++);

const pool = new Piscina({
  filename: new URL('./task.mjs', import.meta.url).href,
  workerData: { handle: registry.handle },
  maxThreads: 2,
  // Threads idle for 20 ms are retired (minThreads 0 lets the pool retire all of them), as
  // a pool under bursty load does: the phases below, with a quiet moment between them,
  // mostly run on new threads, which attach and continue on the stripes the retired ones
  // handed back. Which thread runs which job is up to the pool; no total depends on it.
  minThreads: 0,
  idleTimeout: 20,
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition, timeoutMs = 20_000) {
  for (const end = Date.now() + timeoutMs; !(await condition()) && Date.now() < end; ) await sleep(5);
}
const total = async (metric) => (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
const byOutcome = async () => {
  const values = (await jobs.get()).values;
  return Object.fromEntries(['ok', 'failed', 'timeout', 'rejected'].map((o) => [o, values.find((v) => v.labels.outcome === o)?.value ?? 0]));
};

const returned = { ok: 0, failed: 0, timeout: 0, rejected: 0, cancelled: 0 };
async function phase(tasks) {
  for (const { outcome } of await tasks()) returned[outcome]++;
  await sleep(100); // a quiet moment: the pool retires its idle threads
}
const ids = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);

// 1. The service is healthy: 100 jobs at once. Two get a 503 and one times out: 3 failures,
//    too few to open the breaker in any order the threads record them.
await phase(() => Promise.all(ids(0, 100).map((id) => pool.run({ id, service: 'healthy' }))));

// 2. A slow job is cancelled while it waits on the service, and another job goes on beside
//    it. piscina stops a thread whose running task is aborted: that call never completes,
//    so the breaker records nothing for it (a call admitted while closed holds nothing),
//    and the thread's stripe is handed back. Had it been a half-open probe, its slot would
//    be freed when the breaker's probe lease (`probeLeaseMs`) runs out. The other job's
//    success, recorded after every failure of phase 1, leaves no failure in a row behind.
await phase(async () => {
  const ac = new AbortController();
  const slow = pool.run({ id: 100, service: 'slow', timeoutMs: 30_000 }, { signal: ac.signal });
  const other = await pool.run({ id: 101, service: 'healthy' });
  // Abort once its request is at the service (both jobs counted there).
  await until(async () => (await total(downstreamCalls)) === 102);
  ac.abort();
  await slow.catch(() => returned.cancelled++);
  return [other];
});

// 3. The service goes down. Jobs run one after another here so that exactly 5 calls get
//    through before the breaker opens: with several in flight when the fifth failure is
//    recorded, those fail too (they were admitted), and how many would depend on timing.
await phase(async () => {
  const results = [];
  for (const id of ids(102, 107)) results.push(await pool.run({ id, service: 'down' }));
  return results;
});

// 4. 60 jobs at once: every one is refused by the breaker, which other threads' failures
//    opened, without a request to the service.
await phase(() => Promise.all(ids(107, 167).map((id) => pool.run({ id, service: 'down' }))));

// 5. A job holds its pool thread's event loop for 1.5 s. That thread's heartbeat stops,
//    and the main thread's watcher (polling the thread table from this thread) says so,
//    once. Stalls are counted for the thread that ran the job only: on Deno, the threads
//    the pool terminated before keep their slots, and look stalled too (and once they hold
//    every stripe, a new pool thread gets no slot, is not monitored, and no stall is seen).
const stalls = [];
const watch = registry.watchThreads({ stallMs: 500 }, (t) => stalls.push(t.threadId));
const { threadId: blocked } = await pool.run({ ms: 1500 }, { name: 'block' });
watch.stop();
// The pool's threads, as their slots of the thread table showed them: never more `thread`
// label values than the registry has stripes, however many threads the pool went through.
const threadLabels = new Set(registry.collect().flatMap((f) => (f.name === 'nodejs_gc_duration_seconds' ? f.samples.map((s) => s.labels.thread) : [])));

await pool.destroy();
// The main thread frees each terminated thread's stripe on its 'exit' event (on Node and
// Bun; on Deno a terminated thread keeps its stripe, so this wait runs out there).
await until(() => registry.usage().slotsInUse === 1, 5_000);

const m = inventory.metrics();
console.log(
  JSON.stringify(
    {
      jobs: await byOutcome(),
      returned,
      started: await total(started),
      inventoryRequests: await total(downstreamCalls),
      breaker: {
        state: m.current_state,
        total_calls: m.total_calls,
        success_count: m.success_count,
        failure_count: m.failure_count,
        rejected_calls: m.rejected_calls,
        times_opened: m.times_opened,
      },
      // One attachment per pool thread, whatever number of threads the pool started.
      attachedOncePerThread: poolThreads > 0 && registry.usage().attachments === 1 + poolThreads,
      stripesInUse: registry.usage().slotsInUse,
      threads: {
        // watchThreads fired once, for the pool thread that ran the blocking job.
        stallsOfTheBlockedThread: stalls.filter((id) => id === blocked).length,
        labelsWithinStripes: threadLabels.size > 0 && [...threadLabels].every((t) => Number(t) < registry.stripes),
        // Every pool thread ended, and its slot with it (on Deno, terminated ones keep theirs).
        monitoredAfterDestroy: registry.threads().filter((t) => t.alive).length,
      },
    },
    null,
    2,
  ),
);
