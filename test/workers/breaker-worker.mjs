// Worker for test/breaker.threads.test.ts. Plain .mjs: it runs the built package.
//
// workerData: { handle, backend, clock (SharedArrayBuffer: Int32 ms at index 0), mode, ... }
// mode 'rpc': answers { id, op, args } messages with { id, result } / { id, error }.
// mode 'failures': records failures on several breakers in rounds, all workers starting
//   each round together (a barrier on `sync`).
// mode 'race': trials of the half-open race, driven by worker 0 (see below).
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';

const { handle, backend, mode } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const clockI32 = new Int32Array(workerData.clock);
const clock = () => Atomics.load(clockI32, 0);
const open = (name, config) => registry.circuitBreaker(name, config, { clock });

// Everyone arrives, the last one wakes the others; `slot` counts arrivals cumulatively.
function barrier(sync, slot, parties, round) {
  const target = parties * (round + 1);
  if (Atomics.add(sync, slot, 1) + 1 === target) {
    Atomics.notify(sync, slot);
    return;
  }
  for (;;) {
    const seen = Atomics.load(sync, slot);
    if (seen >= target) return;
    Atomics.wait(sync, slot, seen, 100);
  }
}

if (mode === 'rpc') {
  const breakers = new Map();
  const watches = new Map();
  parentPort.on('message', ({ id, op, args }) => {
    try {
      let result;
      if (op === 'open') {
        breakers.set(args.name, open(args.name, args.config));
        result = registry.slot;
      } else {
        const b = breakers.get(args.name);
        switch (op) {
          case 'acquire': result = b.tryAcquire(); break;
          case 'success': b.recordSuccess(args.d); break;
          case 'failure': b.recordFailure(args.d); break;
          case 'forceOpen': b.forceOpen(); break;
          case 'forceClosed': b.forceClosed(); break;
          case 'state': result = b.state; break;
          case 'metrics': result = b.metricsBigInt(); break;
          case 'watch': watches.set(args.name, b.onStateChange((change) => parentPort.postMessage({ event: change, name: args.name }))); break;
          case 'unwatch': watches.get(args.name)(); watches.delete(args.name); break;
          case 'mixed': {
            // args.n operations: success, failure alternately by a fixed pattern.
            for (let i = 0; i < args.n; i++) {
              if (b.tryAcquire()) {
                if (i % 3 === 0) b.recordFailure(i);
                else b.recordSuccess(i);
              }
            }
            break;
          }
          default: throw new Error(`unknown op ${op}`);
        }
      }
      parentPort.postMessage({ id, result });
    } catch (err) {
      parentPort.postMessage({ id, error: { name: err.name, message: err.message } });
    }
  });
  parentPort.postMessage({ ready: true, slot: registry.slot });
} else if (mode === 'failures') {
  const { names, config, perRound, parties } = workerData;
  const sync = new Int32Array(workerData.sync);
  const breakers = names.map((n) => open(n, config));
  for (let r = 0; r < breakers.length; r++) {
    barrier(sync, 0, parties, r);
    const b = breakers[r];
    for (let i = 0; i < perRound; i++) b.recordFailure(7);
  }
  parentPort.postMessage({ done: true });
} else if (mode === 'race') {
  // Half-open race. For each trial, every worker arrives (sync[1]); worker 0 waits for
  // all of them, opens that trial's breaker at the current time, advances the shared
  // clock by the timeout and publishes the trial (sync[0]); the others spin on sync[0] so
  // that they are running, not asleep, when it is published, and every worker then asks
  // for `attempts` permits at once. results[t * 8 + index] gets the permits it got.
  const { names, configs, attempts, index, trials, parties } = workerData;
  const sync = new Int32Array(workerData.sync);
  const results = new Int32Array(workerData.results);
  const breakers = names.map((n, i) => open(n, configs[i]));
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const spinUntil = (cond) => {
    // Spin, napping 1 ms now and then so that 4 spinning workers on 2 cores still let
    // the others (and the worker being waited for) run.
    for (let spins = 1; !cond(); spins++) if (spins % 20000 === 0) Atomics.wait(nap, 0, 0, 1);
  };
  for (let t = 0; t < trials; t++) {
    const b = breakers[t % breakers.length];
    Atomics.add(sync, 1, 1);
    if (index === 0) {
      spinUntil(() => Atomics.load(sync, 1) >= parties * (t + 1));
      b.forceOpen();
      Atomics.add(clockI32, 0, configs[t % breakers.length].timeoutMs);
      Atomics.store(sync, 0, t + 1);
    } else {
      spinUntil(() => Atomics.load(sync, 0) > t);
    }
    let admitted = 0;
    for (let a = 0; a < attempts; a++) if (b.tryAcquire()) admitted++;
    results[t * 8 + index] = admitted;
  }
  parentPort.postMessage({ done: true });
}
