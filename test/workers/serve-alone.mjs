// A program that starts serveMetrics, scrapes it once, prints what it got and does nothing
// else: test/serve-metrics.threads.test.ts checks that the process then exits on its own. With the
// argument `close`, it awaits close() last and prints "closed" (which it must get to: a
// pending close keeps the process alive). Imports the package by its name, as an
// application does (ESM build).
import { StatsRegistry, serveMetrics } from 'atomic-stats';

const registry = StatsRegistry.create();
registry.counters('alone', ['n']).counter('n').add(7);
const server = await serveMetrics(registry, { port: 0 });
const body = await (await fetch(server.url)).text();
console.log(body.split('\n').find((l) => l.startsWith('atomic_stats_set_alone_total')));
if (process.argv[2] === 'close') {
  await server.close();
  console.log('closed');
}
