import { Worker } from 'node:worker_threads';

const workerUrl = new URL('./tiny-worker.mjs', import.meta.url);

export async function runTinyCase(file, mod, c, opts) {
  const data = await mod.setup(c.id, 1);
  const w = new Worker(workerUrl, { workerData: { file, id: c.id, data, chunk: c.chunk ?? 1000, timeMs: opts.tinyMs } });
  const msg = await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`${c.id}: worker exited with ${code}`)));
  });
  await mod.verify(c.id, data, msg.completed, [msg.report]);
  return { ...msg.stats, totalOps: msg.completed };
}
