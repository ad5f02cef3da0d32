// Run as a child process with a small heap (--max-old-space-size): publishes for
// `ms` milliseconds to a handler that never settles, with a synchronous handler beside it,
// and prints the counts as JSON. It never calls process.exit: the process must end by
// itself although thousands of publishes still await their handlers (their timers are
// unref'd). argv: mode ('fresh': each call returns a new never-settling promise;
// 'shared': an async handler awaiting one promise that never settles, which keeps every
// call's frame reachable), ms, maxPendingDispatches ('default' for the default).
import { InProcessEventBus, StatsRegistry } from '../../dist/index.js';

const [mode, msArg, maxArg] = process.argv.slice(2);
const ms = Number(msArg);
const options = { registry: StatsRegistry.create(), name: 'backlog', dispatchTimeoutMs: 600_000, logger: { warn() {} } };
if (maxArg !== 'default') options.maxPendingDispatches = Number(maxArg);
const bus = new InProcessEventBus(options);

const never = new Promise(() => {});
let asyncCalls = 0;
let syncCalls = 0;
bus.subscribe(
  'order.*',
  mode === 'shared'
    ? async () => {
        asyncCalls++;
        await never;
      }
    : () => {
        asyncCalls++;
        return new Promise(() => {});
      },
);
bus.subscribe('order.created', () => {
  syncCalls++;
});

let published = 0;
let returnedPromise = 0;
const end = Date.now() + ms;
while (Date.now() < end) {
  for (let i = 0; i < 2000; i++) {
    // About 1 KB of payload per event, so a publish held by the bus costs what it would.
    const event = { event_id: `e-${published}`, event_name: 'order.created', event_version: '1.0', payload: { blob: 'x'.repeat(1024) + published }, metadata: {} };
    if (bus.publish(event) !== undefined) returnedPromise++;
    published++;
  }
  // Let timers and promise jobs run, as a real service's event loop would.
  await new Promise((resolve) => setImmediate(resolve));
}
const s = bus.getStatistics();
process.stdout.write(
  JSON.stringify({
    published,
    returnedPromise,
    asyncCalls,
    syncCalls,
    pending: bus.pendingDispatches,
    max: bus.maxPendingDispatches,
    heapUsed: process.memoryUsage().heapUsed,
    stats: s,
  }),
);
