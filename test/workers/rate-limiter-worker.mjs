// Worker side of test/rate-limiter.threads.test.ts. Plain .mjs: it runs the built package.
//
// workerData: { mode, handle, backend, name, config, ... }
// mode 'virtual': a clock shared by the threads (clock[0], in µs) that every attempt
//   advances by `step` µs; tryAcquire() until it reads `endUs`. The clock function keeps
//   the reading the limiter made for this attempt, so each grant's time is the time the
//   limiter decided it at. Reports { grants (µs, an Int32Array), refused }.
// mode 'acquire': `count` awaited acquire()s one after another; each grant takes the next
//   number of the shared sequence seq[0]. Reports { seqs }.
import { parentPort, workerData as d } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const registry = StatsRegistry.attach(d.handle, { backend: d.backend });

if (d.mode === 'virtual') {
  const clk = new Int32Array(d.clock);
  let last = 0;
  const limiter = registry.rateLimiter(d.name, d.config, {
    clock: () => {
      last = Atomics.load(clk, 0);
      return last / 1000;
    },
  });
  waitForStart();
  const grants = [];
  let refused = 0;
  for (;;) {
    Atomics.add(clk, 0, d.step);
    if (limiter.tryAcquire()) grants.push(last);
    else refused++;
    if (last >= d.endUs) break;
  }
  const out = Int32Array.from(grants);
  parentPort.postMessage({ grants: out, refused }, [out.buffer]);
} else if (d.mode === 'acquire') {
  const limiter = registry.rateLimiter(d.name, d.config);
  const seq = new Int32Array(d.seq);
  waitForStart();
  const seqs = [];
  for (let i = 0; i < d.count; i++) {
    await limiter.acquire(1, { maxWaitMs: 60_000 });
    seqs.push(Atomics.add(seq, 0, 1));
  }
  parentPort.postMessage({ seqs });
}
