import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The core is instantiated once per thread on the one shared memory. Anything the module
// writes when instantiated (data segments, a start function) would overwrite live
// counters, so the binary itself is checked here.
const bytes = readFileSync(new URL('../build/atomic-stats.wasm', import.meta.url));

function sections(buf: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 8; // magic + version
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[at++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  while (at < buf.length) {
    const id = buf[at++]!;
    const size = leb();
    ids.push(id);
    at += size;
  }
  return ids;
}

describe('the Wasm core binary', () => {
  const module = new WebAssembly.Module(bytes);

  it('has no data segments, no start function and no data count', () => {
    const ids = sections(bytes);
    expect(ids).not.toContain(11); // data
    expect(ids).not.toContain(8); // start
    expect(ids).not.toContain(12); // data count
  });

  it('imports a shared memory and exports no mutable state', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const kinds = new Set(WebAssembly.Module.exports(module).map((e) => e.kind));
    expect(kinds.has('global')).toBe(false);
  });

  it('does not change a byte of the memory when instantiated', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    const view = new Uint8Array(memory.buffer);
    for (let i = 0; i < view.length; i++) view[i] = (i * 7) & 0xff;
    const before = view.slice();
    new WebAssembly.Instance(module, { env: { memory } });
    expect(Buffer.compare(Buffer.from(view.slice()), Buffer.from(before))).toBe(0);
  });
});
