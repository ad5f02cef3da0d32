// Holds a broadcast receiver handed over by the main thread and obeys its commands:
//   { cmd: 'wait-size', n }  reply once at least n events have arrived here
//   { cmd: 'read', n }       read n events (waiting as needed), reply with them
//   { cmd: 'close' }         close the receiver, reply
//   { cmd: 'idle' }          keep the thread alive doing nothing (to be terminated)
import { parentPort, workerData } from 'node:worker_threads';
import { BroadcastReceiver } from '../../dist/index.js';

const rx = BroadcastReceiver.fromHandle(workerData.handle);
parentPort.on('message', async (m) => {
  if (m.cmd === 'wait-size') {
    while (rx.size < m.n) await new Promise((r) => setTimeout(r, 1));
    parentPort.postMessage({ size: rx.size });
  } else if (m.cmd === 'read') {
    const events = [];
    while (events.length < m.n) {
      const r = await rx.next();
      if (r.done) break;
      events.push(r.value);
    }
    parentPort.postMessage({ events, closed: rx.closed });
  } else if (m.cmd === 'close') {
    rx.close();
    parentPort.postMessage({ closed: rx.closed });
  } else if (m.cmd === 'idle') {
    setInterval(() => {}, 1000);
    parentPort.postMessage({ idle: true });
  }
});
parentPort.postMessage('ready');
