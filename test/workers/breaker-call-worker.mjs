// Worker for test/breaker-call.threads.test.ts. Plain .mjs: it runs the built package.
//
// workerData: { handle, backend, mode, name, start (Int32Array on a SharedArrayBuffer), ... }
// Every mode opens its breaker by name alone (registry.circuitBreaker(name)): the main
// thread created it with a config, and the worker must get that config. The worker posts
// 'ready', waits for the start flag, runs, and posts one result object.
import { parentPort, workerData } from 'node:worker_threads';
import { CallTimeoutError, StatsRegistry } from '../../dist/index.js';

const { handle, backend, mode, name, start } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const clockI32 = workerData.clock ? new Int32Array(workerData.clock) : undefined;
const options = clockI32 ? { clock: () => Atomics.load(clockI32, 0) } : undefined;
const breaker = registry.circuitBreaker(name, undefined, options);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const never = () => new Promise(() => {});

// A blocking wait: an Atomics.waitAsync would not keep the worker alive.
function waitFor(i32, index, value) {
  for (;;) {
    const seen = Atomics.load(i32, index);
    if (seen >= value) return;
    Atomics.wait(i32, index, seen);
  }
}

function revoked() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
class BrokenThen extends Promise {
  then() {
    throw new Error('broken then');
  }
}
// name -> [make result, what one call of it must be recorded as]
const HOSTILE = {
  getterThrows: [() => Object.defineProperty({}, 'then', { get() { throw new Error('getter'); } }), 'failure'],
  revokedProxy: [revoked, 'failure'],
  thenThrows: [() => ({ then() { throw new Error('then'); } }), 'failure'],
  twiceOkErr: [() => ({ then(ok, err) { ok(1); err(new Error('2')); } }), 'success'],
  twiceErrOk: [() => ({ then(ok, err) { err(new Error('1')); ok(2); } }), 'failure'],
  brokenSubclass: [() => BrokenThen.resolve(1), 'failure'],
  neverCallsBack: [() => ({ then() {} }), 'timeout'],
  native: [() => Promise.resolve(1), 'success'],
};

parentPort.postMessage('ready');
waitFor(start, 0, 1);
// A call's timer is unref'd (a pending timeout keeps no thread alive, by design), so a
// worker waiting only for timeouts needs something else to stay up until it reports.
const keepAlive = setInterval(() => {}, 1000);

let result;
if (mode === 'timeouts') {
  // `calls` concurrent calls that outlive `timeoutMs`: half never settle, half settle
  // (alternately resolve and reject) after `lateMs`, when their timeout has passed.
  const { calls, timeoutMs, lateMs } = workerData;
  const outcomes = await Promise.allSettled(
    Array.from({ length: calls }, (_, i) =>
      breaker.call(
        i % 2 === 0
          ? never
          : () => new Promise((resolve, reject) => setTimeout(() => (i % 4 === 1 ? resolve(i) : reject(new Error('late'))), lateMs)),
        { timeoutMs },
      ),
    ),
  );
  // Let every late settlement happen before reporting.
  await sleep(lateMs + 20);
  result = { timeouts: outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof CallTimeoutError).length };
} else if (mode === 'aborts') {
  // `calls` hung calls, each with its own controller, aborted once all have started; and
  // `calls` calls with an already-aborted signal, whose functions must never run.
  const { calls } = workerData;
  let ran = 0;
  let innerAborted = 0;
  const controllers = Array.from({ length: calls }, () => new AbortController());
  const pending = controllers.map((ac, i) =>
    breaker.call(
      ({ signal }) => {
        ran++;
        signal.addEventListener('abort', () => innerAborted++);
        return never();
      },
      { signal: ac.signal, timeoutMs: 60_000 },
    ).then(
      () => 'resolved',
      (e) => (e === controllers[i].signal.reason ? 'aborted' : `other: ${e}`),
    ),
  );
  await sleep(5);
  for (const ac of controllers) ac.abort(new Error('caller gave up'));
  const outcomes = await Promise.all(pending);
  const dead = AbortSignal.abort(new Error('too late'));
  let preRan = 0;
  const pre = await Promise.allSettled(Array.from({ length: calls }, () => breaker.call(() => preRan++, { signal: dead })));
  result = {
    ran,
    innerAborted,
    aborted: outcomes.filter((o) => o === 'aborted').length,
    preRejected: pre.filter((o) => o.status === 'rejected' && o.reason === dead.reason).length,
    preRan,
  };
} else if (mode === 'probe-abort') {
  // The breaker is HalfOpen with room for every worker's probe: take one, say so
  // (sync[0]), wait until every worker holds one (sync[0] == parties), then abort it.
  const { parties } = workerData;
  const sync = new Int32Array(workerData.sync);
  const ac = new AbortController();
  const p = breaker.call(never, { signal: ac.signal }).then(
    () => 'resolved',
    (e) => (e === ac.signal.reason ? 'aborted' : `other: ${e}`),
  );
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  waitFor(sync, 0, parties);
  ac.abort(new Error('cancelled'));
  result = { outcome: await p };
} else if (mode === 'hostile') {
  // Every hostile result `rounds` times, without options and with a timeout.
  const { rounds, timeoutMs } = workerData;
  const counts = { success: 0, failure: 0, timeout: 0, pending: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const [make, expect] of Object.values(HOSTILE)) {
      for (const opts of [undefined, { timeoutMs }]) {
        if (expect === 'timeout' && opts === undefined) continue; // stays pending by design
        const o = await breaker.call(make, opts).then(
          () => 'success',
          (e) => (e instanceof CallTimeoutError ? 'timeout' : 'failure'),
        );
        counts[o]++;
      }
    }
  }
  result = { counts };
} else if (mode === 'by-name') {
  breaker.recordFailure(5);
  const made = registry.circuitBreaker(`made-by-${workerData.index}`);
  made.recordSuccess(1);
  result = { config: { ...breaker.config }, madeConfig: { ...made.config }, seen: registry.circuitBreakers().map((b) => b.name) };
} else if (mode === 'hang-then-die') {
  // `calls` completed calls, then `hung` calls that never settle; the main thread
  // terminates this worker while they are pending.
  const { calls, hung } = workerData;
  for (let i = 0; i < calls; i++) await breaker.call(async () => i);
  for (let i = 0; i < hung; i++) void breaker.call(never);
  parentPort.postMessage({ hanging: true });
  await never(); // kept alive by keepAlive until the main thread terminates it
}
clearInterval(keepAlive);
parentPort.postMessage(result);
