// Worker side of the creation race in test/directory.test.ts: every worker get-or-creates
// the same names at the same moment, half of them with another field list, and reports
// what each call did. Creators that lose the race must give their bytes back.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const d = workerData;
const registry = StatsRegistry.attach(d.handle, { backend: d.backend });
const fields = d.index % 2 === 0 ? ['a'] : ['a', 'b'];
const outcome = {};
waitForStart();
for (const name of d.names) {
  try {
    registry.counters(name, fields).counter('a').add(d.index + 1);
    outcome[name] = 'opened';
  } catch (e) {
    outcome[name] = e.code ?? String(e);
  }
}
parentPort.postMessage({ fields, outcome });
