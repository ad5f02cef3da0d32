import type { CellOps } from './backend.js';
import { WASM_BASE64 } from './generated/wasm-bytes.js';

/** Must equal `abiVersion()` of the module: the host and the module agree on every export. */
export const CORE_ABI_VERSION = 5;

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

/** Whether `value` is a build of this package's core with the ABI this host expects. */
const verified = new WeakSet<WebAssembly.Module>();

export function isCoreModule(value: unknown): value is WebAssembly.Module {
  if (!(value instanceof WebAssembly.Module)) return false;
  if (verified.has(value)) return true;
  if (!WebAssembly.Module.exports(value).some((e) => e.name === 'abiVersion')) return false;
  // Instantiating needs a memory; a throwaway one is enough to call abiVersion().
  const probe = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const x = instantiateCore(value, probe) as unknown as { abiVersion(): number };
  if (x.abiVersion() !== CORE_ABI_VERSION) return false;
  verified.add(value);
  return true;
}

/**
 * The counter exports. Other components (circuit breaker, stats structs) declare the
 * exports they use next to their own code and read them from the same instance
 * (`StatsRegistry.core`).
 */
export type CoreExports = { abiVersion(): number } & Omit<CellOps, 'kind'>;

export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreExports {
  // The module has no data segments and no start function that writes memory, so this
  // instantiation touches none of the shared bytes other threads are using.
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreExports;
}
