// One circuit breaker shared by worker threads: exact counts from every thread, a call
// timeout that aborts the call's signal, a breaker opened by one thread refusing all,
// the probe lease freeing the slot of a probe whose worker was terminated, and the
// default clock agreeing across threads started at different times.
import assert from 'node:assert/strict';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CallTimeoutError, CircuitOpenError, StatsRegistry } from 'atomic-stats';
import { BACKENDS, RUNTIME, sleep, start, startFlag, until, waitForStart } from './lib.mjs';

const SELF = new URL(import.meta.url);
const CONFIG = { failureThreshold: 5, timeoutMs: 1000, successThreshold: 1, probeLeaseMs: 500 };
const CALLS = 250;

if (isMainThread) {
  const results = [];
  // A fake clock in shared memory (ms), read by every thread: the state machine's
  // timing, exactly.
  const clockSab = new SharedArrayBuffer(4);
  const clock = new Int32Array(clockSab);
  Atomics.store(clock, 0, 100_000);
  const registry = StatsRegistry.create();
  const b = registry.circuitBreaker('db', CONFIG, { clock: () => Atomics.load(clock, 0) });
  const data = (mode, i) => ({ mode, handle: registry.handle, backend: BACKENDS[i % 3], clock: clockSab });

  // 1. Four threads call through it: 250 successes and one call that times out each.
  {
    const { flag, go } = startFlag();
    const workers = [0, 1, 2, 3].map((i) => start(SELF, { ...data('calls', i), flag }));
    for (const w of workers) assert.equal(await w.next(), 'ready');
    go();
    const reports = await Promise.all(workers.map((w) => w.next()));
    await Promise.all(workers.map((w) => w.exited));
    for (const r of reports) assert.deepEqual(r, { ok: CALLS, timedOut: true, aborted: true });
    // Four failures in a row at most (one per thread): below the threshold.
    assert.deepEqual(pick(b.metrics()), { current_state: 'Closed', total_calls: 4 * (CALLS + 1), success_count: 4 * CALLS, failure_count: 4, rejected_calls: 0, times_opened: 0 });
    results.push('4 threads: exact counts, timeouts abort the signal');
  }
  // 2. Opened in the main thread, it refuses every thread's calls without calling them.
  {
    for (let i = 0; i < CONFIG.failureThreshold; i++) b.recordFailure(1);
    assert.equal(b.state, 'Open');
    const workers = [0, 1, 2, 3].map((i) => start(SELF, data('refused', i)));
    const reports = await Promise.all(workers.map((w) => w.next()));
    await Promise.all(workers.map((w) => w.exited));
    for (const r of reports) assert.deepEqual(r, { refused: 10, called: 0 });
    assert.equal(b.metrics().rejected_calls, 40);
    results.push('opened by one thread, refused by all');
  }
  // 3. The probe lease: the only half-open probe is taken by a worker that is then
  //    terminated (its call never settles). The slot stays held until probeLeaseMs have
  //    passed since the probe; then the breaker reopens, and recovers after timeoutMs.
  {
    Atomics.add(clock, 0, CONFIG.timeoutMs);
    const prober = start(SELF, data('probe', 1));
    assert.equal(await prober.next(), 'probing');
    await prober.worker.terminate();
    assert.equal(b.state, 'HalfOpen');
    assert.equal(b.tryAcquire(), false, 'the probe slot is still held');
    Atomics.add(clock, 0, CONFIG.probeLeaseMs + 1);
    assert.equal(b.tryAcquire(), false, 'the lease ran out: reopened, and this call refused');
    assert.equal(b.state, 'Open');
    Atomics.add(clock, 0, CONFIG.timeoutMs + 1);
    const permit = b.acquirePermit();
    assert.ok(permit > 0, 'a new probe is admitted');
    b.recordSuccess(1, permit);
    assert.equal(b.state, 'Closed');
    assert.equal(b.metrics().times_opened, 2);
    results.push('probe lease: a terminated worker\'s probe is freed');
  }
  // 4. The default clock, across threads started at different times: a breaker opened
  //    by a worker started well after this thread is still open here, and one opened here
  //    admits a probe in a worker started after its timeout.
  {
    await until(() => performance.now() > 1500, 'this thread to be 1.5 s old', 5000);
    const config = { failureThreshold: 1, timeoutMs: 1000, successThreshold: 1 };
    const opener = start(SELF, { mode: 'open-real', handle: registry.handle, config });
    assert.equal(await opener.next(), 'opened');
    await opener.exited;
    const there = registry.circuitBreaker('real-worker', config);
    assert.equal(there.tryAcquire(), false, 'opened by a worker just now: still open in the main thread');
    const here = registry.circuitBreaker('real-main', config);
    here.recordFailure(1);
    await sleep(config.timeoutMs + 300);
    const late = start(SELF, { mode: 'admit-real', handle: registry.handle, config });
    assert.equal(await late.next(), true, 'a worker started after the timeout is admitted');
    await late.exited;
    results.push('default clock agrees across threads');
  }
  console.log(`breaker (${RUNTIME}): ${results.join('; ')}`);
} else {
  const d = workerData;
  const registry = StatsRegistry.attach(d.handle, d.backend ? { backend: d.backend } : undefined);
  const clock = d.clock ? new Int32Array(d.clock) : undefined;
  const b = d.mode.endsWith('-real') ? undefined : registry.circuitBreaker('db', undefined, { clock: () => Atomics.load(clock, 0) });
  if (d.mode === 'calls') {
    parentPort.postMessage('ready');
    waitForStart(d.flag);
    let ok = 0;
    for (let i = 0; i < CALLS; i++) if ((await b.call(() => i)) === i) ok++;
    // A slow request (10 s) that its signal cancels, as a client given the signal does.
    let signal;
    const slow = ({ signal: s }) => {
      signal = s;
      return new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 10_000);
        s.addEventListener('abort', () => {
          clearTimeout(t);
          reject(s.reason);
        });
      });
    };
    const timedOut = await b.call(slow, { timeoutMs: 20 }).then(() => false, (err) => err instanceof CallTimeoutError);
    parentPort.postMessage({ ok, timedOut, aborted: signal.aborted });
  } else if (d.mode === 'refused') {
    let refused = 0;
    let called = 0;
    for (let i = 0; i < 10; i++) {
      await b.call(() => called++).catch((err) => {
        if (err instanceof CircuitOpenError) refused++;
      });
    }
    parentPort.postMessage({ refused, called });
  } else if (d.mode === 'probe') {
    b.call(() => {
      parentPort.postMessage('probing');
      return new Promise(() => {}); // never settles: the worker is terminated meanwhile
    }).catch(() => {});
  } else if (d.mode === 'open-real') {
    registry.circuitBreaker('real-worker', d.config).recordFailure(1);
    parentPort.postMessage('opened');
  } else if (d.mode === 'admit-real') {
    parentPort.postMessage(registry.circuitBreaker('real-main', d.config).tryAcquire());
  }
}

function pick(m) {
  const { current_state, total_calls, success_count, failure_count, rejected_calls, times_opened } = m;
  return { current_state, total_calls, success_count, failure_count, rejected_calls, times_opened };
}
