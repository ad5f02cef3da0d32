// A piscina task for churn.mjs: attach once per thread (the first task a thread runs),
// then count on that thread's stripe and say which stripe it was.
import { threadId } from 'node:worker_threads';
import { StatsRegistry } from 'atomic-stats';

let registry;
let counter;

export default function task({ handle, backend, count }) {
  registry ??= StatsRegistry.attach(handle, { backend });
  counter ??= registry.counters('pool', ['n'], { striped: true }).counter('n');
  for (let i = 0; i < count; i++) counter.inc();
  return { slot: registry.slot, threadId };
}
