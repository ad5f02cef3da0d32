/*
 * A registry: one shared WebAssembly.Memory holding a directory of named entries
 * (counter sets, stats structs, circuit breakers), usable from every worker thread.
 *
 * Threads and stripes. Every StatsRegistry object (the creator's, and each `attach`)
 * takes the next value of the header's slot counter. A thread whose slot is below the
 * registry's stripe count owns stripe `slot` of every striped set: it is that stripe's
 * only writer, so its updates are plain stores (assembly/counters.ts explains why that
 * is safe for readers). Slots are never handed back, because a terminated worker cannot
 * be told apart from a slow one, and a reused stripe with two writers would lose counts.
 * Attachments beyond the stripe count are still correct: they add atomically to the
 * set's shared stripe. Size `stripes` for the number of attachments a registry will see
 * over its lifetime (main thread + workers, including replacements).
 */
import type { BackendKind, CellOps } from './backend.js';
import { jsCellOps } from './backend-js.js';
import { type CollectOptions, type MetricFamily, collectFamilies } from './export/collect.js';
import {
  type CircuitBreaker,
  type CircuitBreakerConfig,
  type CircuitBreakerOptions,
  type SystemCircuitBreakerMetrics,
  forceAll,
  listCircuitBreakers,
  openCircuitBreaker,
  systemBreakerMetrics,
} from './breaker/index.js';
import { wasmCellOps } from './backend-wasm.js';
import { CounterSet } from './counter-set.js';
import { type MemoryViews, type RecordInfo, countRecords, findOrCreate, listRecords, usedBytes, utf8 } from './directory.js';
import { InvalidHandleError, InvalidOptionsError, NameConflictError } from './errors.js';
import { checkOptionsObject } from './options.js';
import {
  DEFAULT_CAPACITY_BYTES,
  DEFAULT_STRIPES,
  HEADER_BYTES,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_MAGIC,
  H_NEXT_SLOT,
  H_STRIPES,
  H_VERSION,
  BLOCK,
  LAYOUT_VERSION,
  MAGIC,
  MAX_CAPACITY_BYTES,
  MAX_NAME_BYTES,
  MAX_STRIPES,
  MIN_CAPACITY_BYTES,
  PAGE_BYTES,
  alignUp,
  directorySlotsFor,
  setGeometry,
} from './layout.js';
import { type CoreExports, coreModule, instantiateCore, isCoreModule } from './wasm-module.js';
import type { EventBusStats, StatsOptions, StepExecutionStats, WorkerSubscriberStats } from './stats/index.js';
import { openEventBusStats, openStepExecutionStats, openWorkerSubscriberStats } from './stats/index.js';

export interface RegistryOptions {
  /** Which implementation this thread uses for counter operations. Default `'wasm'`. */
  backend?: BackendKind;
  /** Size of the shared memory, fixed for the registry's life; rounded up to 64 KiB pages. Default 4 MiB. */
  capacityBytes?: number;
  /** Owned stripes per striped set, a power of two (1..256). Default 16. */
  stripes?: number;
}

export interface AttachOptions {
  /** Each thread chooses its own backend; all backends share the same cells. Default `'wasm'`. */
  backend?: BackendKind;
}

/**
 * A plain, structured-cloneable value describing a registry: pass it in `workerData` or
 * `postMessage` and call `StatsRegistry.attach(handle)` in the receiving thread.
 */
export interface RegistryHandle {
  readonly type: 'atomic-stats/registry';
  readonly layoutVersion: number;
  /** The registry's `WebAssembly.Memory` (shared, fixed size). */
  readonly memory: SharedWasmMemory;
  /** The compiled core (`WebAssembly.Module`), so attaching threads do not compile it again. */
  readonly module: object;
}

/**
 * What a handle's `memory` is: a shared `WebAssembly.Memory`. Typed structurally so the
 * declarations need neither the DOM nor the WebWorker lib.
 */
export interface SharedWasmMemory {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
}

export interface CounterSetOptions {
  /**
   * Give each thread its own stripe of the set (summed on read), like Java's LongAdder:
   * no contention between threads and, for a thread with a stripe of its own, no atomic
   * read-modify-write at all. Costs `stripes + 1` 128-byte blocks per set. Default false.
   */
  striped?: boolean;
}

/** One entry of the directory, as `entries()` lists it. */
export interface RegistryEntry {
  readonly name: string;
  readonly kind: string;
  /** What the entry holds (fields, striping, config), as recorded by its creator. */
  readonly descriptor: Readonly<Record<string, unknown>>;
}

/** Kind codes stored in each record (the signature carries the kind's name too). */
export const KIND_CODES = {
  counters: 1,
  stepExecutionStats: 2,
  eventBusStats: 3,
  workerSubscriberStats: 4,
  circuitBreaker: 5,
} as const;
export type EntryKind = keyof typeof KIND_CODES;

const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_FIELDS = 64;

function checkBackend(value: unknown): BackendKind {
  if (value === undefined) return 'wasm';
  if (value !== 'wasm' && value !== 'js') throw new InvalidOptionsError('backend', `must be 'wasm' or 'js', got ${String(value)}`);
  return value;
}

export function checkName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') throw new InvalidOptionsError(what, 'must be a string');
  if (name.length === 0) throw new InvalidOptionsError(what, 'must not be empty');
  if (utf8(name).length > MAX_NAME_BYTES) throw new InvalidOptionsError(what, `must be at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  return name;
}

export function checkFields(fields: unknown): string[] {
  if (!Array.isArray(fields)) throw new InvalidOptionsError('fields', 'must be an array of field names');
  if (fields.length === 0 || fields.length > MAX_FIELDS) {
    throw new InvalidOptionsError('fields', `must hold 1..${MAX_FIELDS} names, got ${fields.length}`);
  }
  const seen = new Set<string>();
  for (const f of fields) {
    if (typeof f !== 'string' || !FIELD_RE.test(f) || f.length > 64) {
      throw new InvalidOptionsError('fields', `${JSON.stringify(f)} is not a valid field name (letters, digits, _; not starting with a digit; at most 64)`);
    }
    if (seen.has(f)) throw new InvalidOptionsError('fields', `duplicate field ${JSON.stringify(f)}`);
    seen.add(f);
  }
  return fields as string[];
}

function views(memory: WebAssembly.Memory): MemoryViews {
  return { i32: new Int32Array(memory.buffer), u8: new Uint8Array(memory.buffer) };
}

function describeSignature(signature: string): string {
  try {
    const d = JSON.parse(signature) as Record<string, unknown>;
    const { kind, ...rest } = d;
    return `a ${String(kind)} ${JSON.stringify(rest)}`;
  } catch {
    return signature;
  }
}

interface OpenEntry {
  readonly signature: string;
  readonly kind: EntryKind;
  readonly value: unknown;
}

export class StatsRegistry {
  /** The backend this thread uses. */
  readonly backend: BackendKind;
  /** Size of the shared memory in bytes. */
  readonly capacityBytes: number;
  /** Owned stripes per striped set. */
  readonly stripes: number;
  /**
   * This attachment's slot: it owns stripe `slot` of every striped set when
   * `slot < stripes`, and otherwise adds to the sets' shared stripe.
   */
  readonly slot: number;
  /** @internal */ readonly ops: CellOps;
  /**
   * @internal This thread's instance of the core on the registry's memory (wasm backend
   * only). Components cast it to the exports they declare.
   */
  readonly core: CoreExports | undefined;
  /** @internal */ readonly views: MemoryViews;
  private readonly memory: WebAssembly.Memory;
  private readonly module: WebAssembly.Module | undefined;
  private readonly open = new Map<string, OpenEntry>();

  private constructor(memory: WebAssembly.Memory, backend: BackendKind, module: WebAssembly.Module | undefined) {
    this.memory = memory;
    this.backend = backend;
    this.views = views(memory);
    this.capacityBytes = this.views.i32[H_CAPACITY]! >>> 0;
    this.stripes = this.views.i32[H_STRIPES]!;
    this.module = module;
    this.core = backend === 'wasm' ? instantiateCore(module ?? coreModule(), memory) : undefined;
    this.ops = this.core !== undefined ? wasmCellOps(this.core) : jsCellOps(memory);
    this.slot = Atomics.add(this.views.i32, H_NEXT_SLOT, 1);
  }

  /** Creates a registry on a new shared memory. */
  static create(options?: RegistryOptions): StatsRegistry {
    const o = checkOptionsObject(options, ['backend', 'capacityBytes', 'stripes'], 'options');
    const backend = checkBackend(o.backend);
    let capacity = DEFAULT_CAPACITY_BYTES;
    if (o.capacityBytes !== undefined) {
      const c = o.capacityBytes;
      if (typeof c !== 'number' || !Number.isInteger(c) || c < MIN_CAPACITY_BYTES || c > MAX_CAPACITY_BYTES) {
        throw new InvalidOptionsError('capacityBytes', `must be an integer from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}, got ${String(c)}`);
      }
      capacity = alignUp(c, PAGE_BYTES);
    }
    let stripes = DEFAULT_STRIPES;
    if (o.stripes !== undefined) {
      const s = o.stripes;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_STRIPES || (s & (s - 1)) !== 0) {
        throw new InvalidOptionsError('stripes', `must be a power of two from 1 to ${MAX_STRIPES}, got ${String(s)}`);
      }
      stripes = s;
    }
    const pages = capacity / PAGE_BYTES;
    // initial == maximum: the memory never grows, so no thread's view ever goes stale.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const i32 = new Int32Array(memory.buffer);
    const dirSlots = directorySlotsFor(capacity);
    i32[H_VERSION] = LAYOUT_VERSION;
    i32[H_CAPACITY] = capacity | 0;
    i32[H_STRIPES] = stripes;
    i32[H_DIR_OFFSET] = HEADER_BYTES;
    i32[H_DIR_SLOTS] = dirSlots;
    i32[H_ALLOC_TOP] = alignUp(HEADER_BYTES + dirSlots * 4, BLOCK);
    // Magic last: a header with the magic is complete. (Other threads only see the
    // memory through a handle posted after this, which orders these writes anyway.)
    Atomics.store(i32, H_MAGIC, MAGIC);
    return new StatsRegistry(memory, backend, backend === 'wasm' ? coreModule() : undefined);
  }

  /** Attaches this thread to a registry created elsewhere, from its `handle`. */
  static attach(handle: RegistryHandle, options?: AttachOptions): StatsRegistry {
    const o = checkOptionsObject(options, ['backend'], 'options');
    const backend = checkBackend(o.backend);
    if (handle === null || typeof handle !== 'object') throw new InvalidHandleError('expected an object');
    const h = handle as { type?: unknown; layoutVersion?: unknown; memory?: unknown; module?: unknown };
    if (h.type !== 'atomic-stats/registry') throw new InvalidHandleError(`wrong type tag ${JSON.stringify(h.type)}`);
    if (!(h.memory instanceof WebAssembly.Memory) || !(h.memory.buffer instanceof SharedArrayBuffer)) {
      throw new InvalidHandleError('memory is not a shared WebAssembly.Memory');
    }
    const buffer = h.memory.buffer;
    if (buffer.byteLength < HEADER_BYTES) throw new InvalidHandleError(`memory of ${buffer.byteLength} bytes is too small`);
    const i32 = new Int32Array(buffer);
    if (Atomics.load(i32, H_MAGIC) !== MAGIC) throw new InvalidHandleError('wrong magic number in the memory header');
    if (i32[H_VERSION] !== LAYOUT_VERSION || h.layoutVersion !== LAYOUT_VERSION) {
      throw new InvalidHandleError(
        `layout version ${String(i32[H_VERSION])} (handle says ${String(h.layoutVersion)}), this build reads version ${LAYOUT_VERSION}`,
      );
    }
    if (i32[H_CAPACITY]! >>> 0 !== buffer.byteLength) {
      throw new InvalidHandleError(`header says ${i32[H_CAPACITY]! >>> 0} bytes but the memory has ${buffer.byteLength}`);
    }
    if (h.module !== undefined && !isCoreModule(h.module)) {
      throw new InvalidHandleError('module is not the atomic-stats core');
    }
    return new StatsRegistry(h.memory, backend, h.module);
  }

  /** A structured-cloneable value to send to another thread; see {@link StatsRegistry.attach}. */
  get handle(): RegistryHandle {
    return {
      type: 'atomic-stats/registry',
      layoutVersion: LAYOUT_VERSION,
      memory: this.memory as SharedWasmMemory,
      module: this.module ?? coreModule(),
    };
  }

  /**
   * Gets or creates the counter set `name` with these fields. Every thread asking for the
   * same name with the same fields and striping gets the same cells; another field list,
   * another striping, or a name used for another kind throws NameConflictError.
   */
  counters<const F extends string>(name: string, fields: readonly F[], options?: CounterSetOptions): CounterSet<F> {
    checkName(name);
    checkFields(fields);
    const o = checkOptionsObject(options, ['striped'], 'options');
    if (o.striped !== undefined && typeof o.striped !== 'boolean') throw new InvalidOptionsError('striped', 'must be a boolean');
    const striped = o.striped === true;
    const geometry = setGeometry(fields.length, striped, this.stripes);
    return this.openEntry(name, 'counters', { fields: [...fields], striped }, geometry.dataBytes, (dataOffset) =>
      new CounterSet<F>(this.ops, { setName: name, dataOffset, geometry, ownedStripe: this.ownedStripe(striped) }, fields),
    );
  }

  /**
   * Gets or creates the circuit breaker `name`, shared by every thread of the registry
   * (the README, "Circuit breaker"). Without a config (`undefined`), an existing breaker
   * is returned with whatever config it was created with, by any thread, and a new one
   * gets the defaults. With a config, another config for the same name throws
   * NameConflictError. `options` are this thread's (clock, isFailure).
   */
  circuitBreaker(name: string, config?: CircuitBreakerConfig, options?: CircuitBreakerOptions): CircuitBreaker {
    return openCircuitBreaker(this, name, config, options);
  }

  /** Every circuit breaker any thread created in this registry, by name, each with its own config. */
  circuitBreakers(): CircuitBreaker[] {
    return listCircuitBreakers(this);
  }

  /** One snapshot of every circuit breaker and the totals over them; see SystemCircuitBreakerMetrics. */
  circuitBreakerMetrics(): SystemCircuitBreakerMetrics {
    return systemBreakerMetrics(this);
  }

  /** Forces every circuit breaker of the registry Open (as `forceOpen` does); returns how many. */
  forceOpenAll(): number {
    return forceAll(this, true);
  }

  /** Forces every circuit breaker of the registry Closed (as `forceClosed` does); returns how many. */
  forceClosedAll(): number {
    return forceAll(this, false);
  }

  /** Gets or creates the step execution stats `name` (striped by default); see StepExecutionStats. */
  stepExecutionStats(name: string, options?: StatsOptions): StepExecutionStats {
    return openStepExecutionStats(this, name, options);
  }

  /** Gets or creates the event-bus stats `name` (striped by default); see EventBusStats. */
  eventBusStats(name: string, options?: StatsOptions): EventBusStats {
    return openEventBusStats(this, name, options);
  }

  /** Gets or creates the completion-listener stats `name` (striped by default); see WorkerSubscriberStats. */
  workerSubscriberStats(name: string, options?: StatsOptions): WorkerSubscriberStats {
    return openWorkerSubscriberStats(this, name, options);
  }

  /**
   * One read of every entry of the registry, created by any thread, as metric families
   * (what the Prometheus and OpenTelemetry adapters export). Reads the shared memory
   * only: no message to any worker. See `collectFamilies` for the naming.
   */
  collect(options?: CollectOptions): MetricFamily[] {
    return collectFamilies(this, options);
  }

  /** The directory's entries, as any thread sees them now. */
  entries(): RegistryEntry[] {
    return listRecords(this.views).map((r) => {
      const { kind, ...descriptor } = JSON.parse(r.signature) as Record<string, unknown>;
      return { name: r.name, kind: String(kind), descriptor };
    });
  }

  /** Bytes of the shared memory in use (header, directory, entries) and in all. */
  usage(): { usedBytes: number; capacityBytes: number; entries: number } {
    return {
      usedBytes: usedBytes(this.views),
      capacityBytes: this.capacityBytes,
      entries: countRecords(this.views),
    };
  }

  /** @internal This thread's owned stripe for a set, or -1 to use the shared stripe. */
  ownedStripe(striped: boolean): number {
    return striped && this.slot < this.stripes ? this.slot : -1;
  }

  /**
   * @internal Get-or-create of any kind of entry: checks the signature against what is
   * registered (in this thread's cache, then in the shared directory) and builds this
   * thread's object for it once. With `anyOfKind`, an existing entry of the same kind
   * matches whatever its descriptor (`descriptor` is then only what a new entry gets);
   * `build` receives the signature actually registered.
   */
  openEntry<T>(
    name: string,
    kind: EntryKind,
    descriptor: Record<string, unknown>,
    dataBytes: number,
    build: (dataOffset: number, signature: string) => T,
    anyOfKind = false,
  ): T {
    const signature = JSON.stringify({ kind, ...descriptor });
    const cached = this.open.get(name);
    if (cached !== undefined) {
      if (cached.signature !== signature && !(anyOfKind && cached.kind === kind)) {
        throw new NameConflictError(name, describeSignature(cached.signature), describeSignature(signature));
      }
      return cached.value as T;
    }
    const record: RecordInfo = findOrCreate(this.views, { name, kind: KIND_CODES[kind], signature, dataBytes });
    // An entry matched by kind alone must still have the data size this kind needs here:
    // it is read from shared memory, and the build addresses its data by that size.
    if (record.signature !== signature && !(anyOfKind && record.kind === KIND_CODES[kind] && record.dataBytes === dataBytes)) {
      throw new NameConflictError(name, describeSignature(record.signature), describeSignature(signature));
    }
    const value = build(record.dataOffset, record.signature);
    this.open.set(name, { signature: record.signature, kind, value });
    return value;
  }
}
