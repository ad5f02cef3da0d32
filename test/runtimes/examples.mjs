// How run.mjs runs every example under examples/ and compares its output with the output
// on this machine's Node (which test/examples.test.ts checks value by value). What may
// differ between runtimes, and only that, is allowed here:
//   - how console.log prints an object (Bun: one key per line, a comma after the last);
//   - prom-client's default metrics (process_*, nodejs_*): each runtime reports its own;
//   - Deno: stripes of the pool threads that piscina terminated are not handed back
//     (docs/worker-pools.md), so the piscina example's `stripesInUse` is larger, and the
//     thread-table slots that go with them still show those threads as monitored
//     (`threads.monitoredAfterDestroy`). Since those slots are never freed, the pool thread
//     that runs the blocking job may be one beyond the registry's stripes: it then has no
//     slot, is not monitored (docs/thread-health.md), and no stall is reported for it, so
//     `threads.stallsOfTheBlockedThread` is 1, or 0 when the pool went through as many
//     threads as there are stripes (seen in CI: 8 pool threads, 8 stripes);
//   - `atomic_stats_registry_used_bytes` (any positive integer): when worker threads
//     create the same labelled series at once, each may allocate a node, and the losers'
//     nodes go to the family's free list (src/kinds/series-table.ts), so the bytes in use
//     depend on how the threads' starts overlapped, on any runtime, run to run.
export const EXAMPLES = [
  { name: 'quickstart', args: [] },
  { name: 'piscina-pool', args: [] },
  { name: 'prometheus-http', args: ['--once'] },
  { name: 'opentelemetry', args: [] },
];

/** console.log's rendering of plain objects, as one runtime-neutral string. */
export const inspectNeutral = (text) => text.replace(/\s+/g, '').replace(/,([}\]])/g, '$1').replace(/"/g, "'");

/** Whether `line` belongs to what the package exports (not a client's default metrics). */
const ours = (line) => /^(# (HELP|TYPE) )?(atomic_stats_|http_request_duration_seconds)/.test(line);

/** Undefined when `result` (a run of `example` on a runtime of `kind`) matches `expected` stdout; otherwise what differs. */
export function compareExample(example, result, expected, kind) {
  if (result.stderr !== '') return `wrote to stderr: ${result.stderr.trim().split('\n')[0]}`;
  const got = result.stdout;
  switch (example.name) {
    case 'quickstart':
    case 'opentelemetry':
      return inspectNeutral(got) === inspectNeutral(expected) ? undefined : 'output differs from Node\'s';
    case 'piscina-pool': {
      let a;
      try {
        a = JSON.parse(got);
      } catch {
        return 'output is not JSON';
      }
      const b = JSON.parse(expected);
      if (kind === 'deno') {
        if (!(Number.isInteger(a.stripesInUse) && a.stripesInUse >= 1)) return `stripesInUse ${a.stripesInUse}`;
        if (!(Number.isInteger(a.threads?.monitoredAfterDestroy) && a.threads.monitoredAfterDestroy >= 0)) return `threads.monitoredAfterDestroy ${a.threads?.monitoredAfterDestroy}`;
        delete a.stripesInUse;
        delete b.stripesInUse;
        delete a.threads.monitoredAfterDestroy;
        delete b.threads.monitoredAfterDestroy;
        if (a.threads.stallsOfTheBlockedThread !== 0 && a.threads.stallsOfTheBlockedThread !== 1) return `threads.stallsOfTheBlockedThread ${a.threads.stallsOfTheBlockedThread}`;
        delete a.threads.stallsOfTheBlockedThread;
        delete b.threads.stallsOfTheBlockedThread;
      }
      return JSON.stringify(a) === JSON.stringify(b) ? undefined : `output differs from Node's: ${JSON.stringify(a)}`;
    }
    case 'prometheus-http': {
      const [g, e] = [got, expected].map((t) => t.split('\n'));
      if (g.slice(0, 3).join('\n') !== e.slice(0, 3).join('\n')) return `status or content type differs: ${g.slice(0, 2).join(' / ')}`;
      const usedBytes = /^atomic_stats_registry_used_bytes (\d+)$/;
      const bad = g.find((l) => usedBytes.test(l) && !(Number(usedBytes.exec(l)[1]) > 0));
      if (bad) return `used bytes not a positive integer: ${bad}`;
      const [go, eo] = [g, e].map((lines) => lines.filter(ours).map((l) => l.replace(usedBytes, 'atomic_stats_registry_used_bytes N')));
      if (eo.length < 10) return 'the reference output has too few of our lines';
      const missing = eo.filter((l, i) => go[i] !== l);
      return missing.length === 0 && go.length === eo.length ? undefined : `differs from Node's at ${JSON.stringify(missing[0] ?? go[eo.length])}`;
    }
    default:
      return `no comparison for example ${example.name}`;
  }
}
