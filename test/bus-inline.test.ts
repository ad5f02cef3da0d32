/*
 * InProcessEventBus.publish must stay small enough for V8 to inline it into the caller's
 * loop (max_inlined_bytecode_size, 460 bytes of bytecode by default): measured on Node 20,
 * an inlined publish with one handler costs about half of a called one, with stats on or
 * off. Structural, not timed: this reads the bytecode length V8 reports for the built
 * package's publish and checks that TurboFan really inlines it into a hot loop.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const DIST = new URL('../dist/index.js', import.meta.url).href;
const SCRIPT = `
const S = await import(${JSON.stringify(DIST)});
const r = S.StatsRegistry.create();
const bus = new S.InProcessEventBus({ registry: r, name: 'b' });
let handled = 0;
bus.subscribe('order.*', () => { handled++; });
const ev = { event_name: 'order.placed', event_id: 'x' };
function loop(n) { for (let i = 0; i < n; i++) bus.publish(ev); }
for (let k = 0; k < 400; k++) loop(1000);
if (handled !== 400000) throw new Error('handled ' + handled);
`;

function run(flags: string[]): string {
  const p = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', SCRIPT], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000, killSignal: 'SIGKILL' });
  expect(p.status, `${p.error?.message ?? ''}\n${p.stderr}`).toBe(0);
  return p.stdout;
}

describe('InProcessEventBus.publish stays inlinable', () => {
  it('its bytecode is under the inlining limit', () => {
    const out = run(['--print-bytecode', '--print-bytecode-filter=publish']);
    // Two functions are named publish: the bus's and its broadcaster's; the bus's is the larger.
    const lengths = [...out.matchAll(/Bytecode length: (\d+)/g)].map((m) => Number(m[1]));
    expect(lengths.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...lengths)).toBeLessThan(460);
  });

  it('TurboFan inlines it into a hot loop', () => {
    const out = run(['--trace-turbo-inlining']);
    expect(out).toMatch(/Inlining \S+ \{\S+ <SharedFunctionInfo publish>\} into \S+ \{\S+ <SharedFunctionInfo loop>\}/);
  });
});
