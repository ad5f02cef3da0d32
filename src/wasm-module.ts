/*
 * The Wasm core: compiling it, recognising it in a handle, and checking a memory before
 * anything runs on it.
 *
 * Why a handle's module is never run. A handle carries a compiled module, but whatever
 * arrives in a handle could be any module: instantiating one runs its start function
 * (which may write the shared header), and calling any export may loop forever. So every
 * thread instantiates only its own compilation of the bytes this build embeds
 * (`coreModule`). That costs little: V8 shares the compiled code of identical bytes
 * between the threads of a process, so a worker's compilation after the main thread's
 * is a cache hit (a fraction of a millisecond against tens for the first one).
 * The handle's module is still checked, from its static description alone, so that a
 * handle made by another build of the package is refused loudly instead of being read
 * with this build's layout: the custom section "atomic-stats.build" must carry this
 * build's identity (the SHA-256 of its compiled bytes, stamped by scripts/embed-wasm.mjs),
 * and its imports and exports must equal this build's. The identity is a fingerprint
 * against mixed-up builds, not a signature, which is why nothing relies on it to decide
 * what code runs.
 *
 * Why a memory is linked against a probe. A registry's memory must never grow (every
 * thread holds views of one buffer), so its maximum must equal its size. Node 20 offers
 * no way to read a Memory's maximum (the buffer's maxByteLength does not reflect it, and
 * Memory#type() is behind a flag). Linking does: a module that imports a memory declared
 * with maximum P links only to a memory whose maximum is at most P, and a memory of P
 * pages has a maximum of at least P. The probe has no functions, so linking it runs
 * nothing.
 */
import { WASM_BASE64, WASM_BUILD_ID, WASM_BUILD_SECTION, WASM_EXPORTS, WASM_IMPORTS } from './generated/wasm-bytes.js';

/** Must equal `abiVersion()` of the module: the host and the module agree on every export. */
export const CORE_ABI_VERSION = 10;

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

const verified = new WeakSet<WebAssembly.Module>();

function hex(bytes: ArrayBuffer): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * Why `value` is not this build of the core, or undefined when it is. Runs none of the
 * module's code (see above).
 */
export function checkCoreModule(value: unknown): string | undefined {
  if (!(value instanceof WebAssembly.Module)) return 'module is not a WebAssembly.Module';
  if (value === compiled || verified.has(value)) return undefined;
  try {
    const ids = WebAssembly.Module.customSections(value, WASM_BUILD_SECTION);
    if (ids.length !== 1 || hex(ids[0]!) !== WASM_BUILD_ID) return 'module is not this build of the atomic-stats core (its build identity differs)';
    if (JSON.stringify(WebAssembly.Module.imports(value)) !== WASM_IMPORTS) return "module's imports are not the atomic-stats core's";
    if (JSON.stringify(WebAssembly.Module.exports(value)) !== WASM_EXPORTS) return "module's exports are not the atomic-stats core's";
  } catch {
    // An object that only inherits from WebAssembly.Module.prototype.
    return 'module is not a WebAssembly.Module';
  }
  verified.add(value);
  return undefined;
}

const probes = new Map<number, WebAssembly.Module>();

/** @internal Unsigned LEB128, as the WebAssembly binary format writes sizes and indexes (the test forger uses it too). */
export function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

// A module with one import, env.memory, shared, of exactly `pages` pages (min = max).
function probeFor(pages: number): WebAssembly.Module {
  let m = probes.get(pages);
  if (m === undefined) {
    const name = (s: string) => [s.length, ...Buffer.from(s, 'latin1')];
    const entry = [1, ...name('env'), ...name('memory'), 0x02, 0x03, ...leb128(pages), ...leb128(pages)];
    m = new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x02, ...leb128(entry.length), ...entry]));
    probes.set(pages, m);
  }
  return m;
}

// WebAssembly.Memory.prototype's own `buffer` getter, taken once. Calling it on a value is
// the brand check that `instanceof` is not: a Proxy of a real Memory passes instanceof
// (its prototype is Memory.prototype) and then throws a TypeError from this very getter.
// And the buffer it returns is the memory's own, not whatever a Proxy trap answers.
const memoryBufferGetter = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer')!.get!;

/**
 * The SharedArrayBuffer of `value` when it is a real, shared WebAssembly.Memory; otherwise
 * why not. Runs no code of `value` (no getter, no Proxy trap).
 */
export function sharedMemoryBuffer(value: unknown): SharedArrayBuffer | string {
  if (value === null || typeof value !== 'object') return `memory is ${value === undefined ? 'missing' : describeType(value)}, not a shared WebAssembly.Memory`;
  let buffer: unknown;
  try {
    buffer = memoryBufferGetter.call(value);
  } catch {
    return 'memory is not a WebAssembly.Memory (a Proxy of one, or any other imitation, is not accepted: pass the Memory itself)';
  }
  if (!(buffer instanceof SharedArrayBuffer)) return 'memory is a WebAssembly.Memory that is not shared (create it with shared: true)';
  return buffer;
}

function describeType(v: unknown): string {
  return v === null ? 'null' : `a ${typeof v}`;
}

/** Whether a shared memory of `byteLength` bytes has a maximum equal to its size. */
export function isFixedSize(memory: WebAssembly.Memory, byteLength: number): boolean {
  try {
    new WebAssembly.Instance(probeFor(byteLength / 65536), { env: { memory } });
    return true;
  } catch {
    return false;
  }
}

/**
 * The core instance's exports: `abiVersion()`, and the operations, which ops/bind.ts types
 * (each op set's Wasm twin declares the exports it reads).
 */
export type CoreInstanceExports = { abiVersion(): number } & Readonly<Record<string, unknown>>;

/** Instantiates the core (always `coreModule()` in the package) on the registry's memory. */
export function instantiateCore(module: WebAssembly.Module, memory: WebAssembly.Memory): CoreInstanceExports {
  // The module has no data segments and no start function that writes memory, so this
  // instantiation touches none of the shared bytes other threads are using.
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as CoreInstanceExports;
}
