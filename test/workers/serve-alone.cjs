// The CommonJS twin of serve-alone.mjs (the CommonJS build, its own server-thread file).
const { StatsRegistry, serveMetrics } = require('atomic-stats');

const registry = StatsRegistry.create();
registry.counters('alone', ['n']).counter('n').add(7);
serveMetrics(registry, { port: 0 })
  .then((server) => fetch(server.url))
  .then((res) => res.text())
  .then((body) => console.log(body.split('\n').find((l) => l.startsWith('atomic_stats_set_alone_total'))));
