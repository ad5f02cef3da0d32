// Reports completions for the main thread's subscriber through a CompletionSender:
// the ones in workerData.completions, then closes its end.
import { parentPort, workerData } from 'node:worker_threads';
import { CompletionSender } from '../../dist/index.js';

const sender = new CompletionSender(workerData.port);
for (const c of workerData.completions) sender.send(c);
sender.close();
parentPort.postMessage('sent');
