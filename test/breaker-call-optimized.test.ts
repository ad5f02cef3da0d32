/*
 * A guarded call with options (here a timeout) must reach optimized code. A build that
 * assigned class fields in the constructor (useDefineForClassFields off, tried and
 * withdrawn) made V8 in Node 20 abort every attempt to optimize the breaker's per-call
 * object (GuardedCall, a CallScope) and the function that makes it ("Bailed out due to
 * dependency change", hundreds of times, never completing): a timed call cost twice as
 * much. Structural, not timed: this reads V8's optimization trace for the built package.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const DIST = new URL('../dist/index.js', import.meta.url).href;
const SCRIPT = `
const S = await import(${JSON.stringify(DIST)});
const b = S.StatsRegistry.create({ backend: 'wasm' }).circuitBreaker('x');
let n = 0;
const work = async () => ++n;
const opts = { timeoutMs: 60000 };
for (let k = 0; k < 200; k++) for (let i = 0; i < 1000; i++) await b.call(work, opts);
if (n !== 200000) throw new Error('ran ' + n);
if (b.metrics().success_count !== 200000) throw new Error('recorded ' + b.metrics().success_count);
`;

describe('a call with a timeout reaches optimized code', () => {
  it('V8 completes optimizing it and does not keep aborting', () => {
    const p = spawnSync(process.execPath, ['--trace-opt', '--input-type=module', '-e', SCRIPT], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000, killSignal: 'SIGKILL' });
    expect(p.status, `${p.error?.message ?? ''}\n${p.stderr}`).toBe(0);
    const aborted = p.stdout.split('\n').filter((l) => /aborted optimizing .*<JSFunction (callScoped|GuardedCall) /.test(l));
    expect(aborted.length, aborted.slice(0, 3).join('\n')).toBeLessThanOrEqual(3);
    expect(p.stdout).toMatch(/completed optimizing .*<JSFunction callScoped /);
  });
});
