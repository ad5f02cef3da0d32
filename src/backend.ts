/**
 * Which implementation a registry object uses for the operations on cells: `'wasm'` (the
 * WebAssembly core), `'js'` (its pure-JS twin, `Atomics` on the same memory) or `'auto'`
 * (each operation from whichever twin is faster at it; the rule is in ops/bind.ts). All
 * three follow one cell protocol, so threads with different backends share cells.
 */
export type BackendKind = 'auto' | 'wasm' | 'js';
