// Worker side of test/series-create-race.threads.test.ts: every worker creates the same
// labelled series, in the same order, at the same time as the others.
import { parentPort, workerData } from 'node:worker_threads';
import { StatsRegistry } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, n } = workerData;
const registry = StatsRegistry.attach(handle, { backend });
const c = registry.counter({ name: 'race_total', help: 'Series every thread creates at once.', labelNames: ['s'], maxSeries: n });
waitForStart();
for (let i = 0; i < n; i++) c.inc({ s: `v${i}` });
parentPort.postMessage('done');
