import { WASM_BASE64 } from './generated/wasm-bytes.js';

/** Export names the host relies on; a handle's module must provide all of them. */
export const REQUIRED_EXPORTS = [
  'sharedInc',
  'sharedAdd',
  'ownedInc',
  'ownedAdd',
  'readShared',
  'readShared64',
  'readStriped',
  'readStriped64',
] as const;

let compiled: WebAssembly.Module | undefined;

/**
 * The core module, compiled at most once per thread. Attaching threads normally receive
 * it in the handle (a WebAssembly.Module is structured-cloneable between threads of one
 * process), so they skip even that compilation.
 */
export function coreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    compiled = new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  }
  return compiled;
}

export function isCoreModule(value: unknown): value is WebAssembly.Module {
  if (!(value instanceof WebAssembly.Module)) return false;
  const names = new Set(WebAssembly.Module.exports(value).map((e) => e.name));
  return REQUIRED_EXPORTS.every((n) => names.has(n));
}

export type CoreExports = {
  sharedInc(cell: number): void;
  sharedAdd(cell: number, lo: number, hi: number): void;
  ownedInc(seq: number, cell: number): void;
  ownedAdd(seq: number, cell: number, lo: number, hi: number): void;
  readShared(cell: number): number;
  readShared64(cell: number): bigint;
  readStriped(sharedCell: number, firstOwned: number, cellOffset: number, stride: number, stripes: number): number;
  readStriped64(sharedCell: number, firstOwned: number, cellOffset: number, stride: number, stripes: number): bigint;
};

export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreExports {
  // The module has no data segments and no start function that writes memory, so this
  // instantiation touches none of the shared bytes other threads are using.
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}
