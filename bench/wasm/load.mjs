// Instantiates the bench-only baselines module on a shared memory (one page). setup()
// runs in the harness thread and calls baselineMemory(), which builds the module if
// needed; prepare() runs in each case thread and calls instantiate() on that memory.
import { readFileSync } from 'node:fs';
import { buildBaselines } from './build.mjs';

let compiled;

export function baselineMemory() {
  buildBaselines();
  return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
}

export function instantiate(memory) {
  compiled ??= new WebAssembly.Module(readFileSync(new URL('./baselines.wasm', import.meta.url)));
  return new WebAssembly.Instance(compiled, { env: { memory } }).exports;
}
