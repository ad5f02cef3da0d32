// What the hot paths rely on V8 (this Node's version of it) to do, read from its own
// traces rather than timed:
//   - a breaker call with options reaches optimized code (callScoped), and V8 does not
//     keep aborting it (test/breaker-call-optimized.test.ts has the history);
//   - InProcessEventBus.publish fits V8's inlining budget (--max-inlined-bytecode-size,
//     460 bytes of bytecode) and is inlined into the caller's loop (src/bus/event-bus.ts).
// Node only: Bun is not V8, and Deno's V8 flags and trace format are not Node's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const DIST = new URL(import.meta.resolve('atomic-stats')).href;

function trace(flags, script) {
  const p = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  assert.equal(p.status, 0, p.stderr);
  return p.stdout;
}

const call = trace(
  ['--trace-opt'],
  `
const S = await import(${JSON.stringify(DIST)});
const b = S.StatsRegistry.create({ backend: 'wasm' }).circuitBreaker('x');
let n = 0;
const work = async () => ++n;
const opts = { timeoutMs: 60000 };
for (let k = 0; k < 200; k++) for (let i = 0; i < 1000; i++) await b.call(work, opts);
if (b.metrics().success_count !== 200000) throw new Error('recorded ' + b.metrics().success_count);
`,
);
const aborted = call.split('\n').filter((l) => /aborted optimizing .*<JSFunction (callScoped|GuardedCall) /.test(l));
assert.ok(aborted.length <= 3, `V8 keeps aborting the optimization of a call:\n${aborted.slice(0, 3).join('\n')}`);
assert.match(call, /completed optimizing .*<JSFunction callScoped /, 'a call with a timeout never reached optimized code');

const budget = Number(/--max-inlined-bytecode-size=(\d+)/.exec(spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout)?.[1]);
const inlining = trace(
  ['--trace-turbo-inlining'],
  `
const { StatsRegistry, InProcessEventBus } = await import(${JSON.stringify(DIST)});
const bus = new InProcessEventBus({ registry: StatsRegistry.create(), name: 'bench', recordStats: true });
let handled = 0;
bus.subscribe('order.*', () => { handled++; });
const EVENT = { event_id: '00000000-0000-4000-8000-000000000000', event_name: 'order.created', event_version: '1.0', timestamp: '2024-01-01T00:00:00Z', payload: {} };
function loop(n) { for (let i = 0; i < n; i++) bus.publish(EVENT); }
for (let k = 0; k < 300; k++) loop(10000);
if (handled !== 3000000) throw new Error('handled ' + handled);
`,
);
const sizes = [...inlining.matchAll(/<SharedFunctionInfo publish>\}, bytecode size: (\d+)/g)].map((m) => Number(m[1]));
const busPublish = Math.max(...sizes);
assert.ok(busPublish < budget, `InProcessEventBus.publish is ${busPublish} bytes of bytecode, over V8's inlining budget of ${budget}`);
assert.match(inlining, /Inlining .*<SharedFunctionInfo publish>\} into .*<SharedFunctionInfo loop>/, 'publish() is not inlined into the caller\'s loop');

console.log(`v8 (${process.versions.v8}): a timed call is optimized; publish() is ${busPublish} of ${budget} bytes and inlined`);
