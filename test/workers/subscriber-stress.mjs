// Mode 'local': this thread's own WorkerEventSubscriber on the shared stats name handles
// n completions. Mode 'port': sends n completions to the main thread's subscriber through
// a CompletionSender. Completion i: malformed (metadata an array) when i % 7 == 0, else
// a success when i is even, a failure when odd.
import { parentPort, workerData } from 'node:worker_threads';
import { CompletionSender, StatsRegistry, WorkerEventSubscriber } from '../../dist/index.js';
import { waitForStart } from './start.mjs';

const { handle, backend, name, n, mode, port, index } = workerData;
const completion = (i) => ({
  event_id: `w${index}-${i}`,
  task_uuid: 't',
  step_uuid: 's',
  success: i % 2 === 0,
  result: { i },
  metadata: i % 7 === 0 ? [i] : { execution_time_ms: i },
});
if (mode === 'local') {
  const registry = StatsRegistry.attach(handle, { backend });
  const sub = new WorkerEventSubscriber({ registry, name, workerId: `w${index}`, correlate: false, logger: { warn() {} } });
  waitForStart();
  let converted = 0;
  for (let i = 0; i < n; i++) if (sub.handleCompletion(completion(i)) !== undefined) converted++;
  parentPort.postMessage({ converted });
} else {
  const sender = new CompletionSender(port);
  waitForStart();
  // Batches of 1000 per message; yield between them so each batch is flushed.
  for (let i = 0; i < n; i += 1000) {
    for (let k = i; k < Math.min(n, i + 1000); k++) sender.send(completion(k));
    await new Promise((r) => setImmediate(r));
  }
  sender.close();
  parentPort.postMessage({ sent: n });
}
