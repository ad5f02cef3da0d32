/*
 * A registry: one shared WebAssembly.Memory holding a directory of named entries
 * (counter sets, stats structs, circuit breakers), usable from every worker thread.
 *
 * Threads and stripes. Every StatsRegistry object (the creator's, and each `attach`)
 * claims the lowest free entry of the registry's stripe-slot table (src/slots.ts); the
 * object that holds entry `slot` owns stripe `slot` of every striped set: it is that
 * stripe's only writer, so its updates are plain stores (assembly/counters.ts explains
 * why that is safe for readers). Handles read their stripe from a field fixed when they
 * are opened, so nothing on a hot path ever asks who owns what.
 *
 * A stripe is handed back when its holder can no longer write it: on `close()` /
 * `[Symbol.dispose]()` (after every handle opened through the object has been switched
 * to the shared stripe), when its thread exits normally, or, for a terminated worker,
 * when the thread that created the worker sees its 'exit' event (the worker has stopped
 * by then). The next attachment takes the stripe over with its counts intact and
 * continues the plain stores on the same cells. src/slots.ts has the protocol and the
 * worst case (a terminated worker nobody watched keeps its stripe).
 *
 * Each registry object claims its own stripe, even two in one thread: an object is the
 * unit that is closed, and its handles are the ones switched to the shared stripe. So
 * attach once per thread and share the object. An attachment that finds every stripe
 * held adds atomically to the sets' shared stripe for its whole life: still exact, only
 * contended. `usage()` reports the stripes in use.
 */
import { availableParallelism } from 'node:os';
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
import { autoCellOps } from './backend-auto.js';
import { CounterSet } from './counter-set.js';
import { Directory, type DirectoryBounds, type MemoryViews, type RecordInfo, readBounds, utf8 } from './directory.js';
import { AtomicStatsError, CorruptRegistryError, InvalidHandleError, InvalidOptionsError, NameConflictError, RegistryClosedError } from './errors.js';
import { breakerGeometry } from './breaker/layout.js';
import { checkOptionsObject } from './options.js';
import {
  DEFAULT_CAPACITY_BYTES,
  HEADER_BYTES,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_MAGIC,
  H_NEXT_SLOT,
  H_RECORDS_START,
  H_SLOT_COUNT,
  H_SLOT_TABLE,
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
  SLOT_ENTRY_BYTES,
  alignUp,
  directorySlotsFor,
  defaultStripes,
  setGeometry,
  slotTableOffset,
} from './layout.js';
import { type SlotHolder, type SlotTable, claimSlot, releaseSlot, slotsInUse, unwatch, watch } from './slots.js';
import { type CoreExports, checkCoreModule, coreModule, instantiateCore, isFixedSize } from './wasm-module.js';
import { METRIC_KIND_CODES } from './kinds/codes.js';
import { type CounterConfiguration, type CounterMetric, counterKind } from './kinds/counter.js';
import { type GaugeConfiguration, type GaugeMetric, gaugeKind } from './kinds/gauge.js';
import { type HistogramConfiguration, type HistogramMetric, histogramKind } from './kinds/histogram.js';
import type { EventBusStats, StatsOptions, StepExecutionStats, StepStatsOptions, WorkerSubscriberStats } from './stats/index.js';
import { openEventBusStats, openStepExecutionStats, openWorkerSubscriberStats } from './stats/index.js';

export interface RegistryOptions {
  /**
   * Which implementation this thread uses for counter operations: `'auto'` (the default:
   * plain JS stores for this thread's own stripes, the Wasm core for atomic adds and
   * reads), `'wasm'` (the Wasm core for everything) or `'js'` (no WebAssembly: `Atomics`
   * on the same memory). All three share the same cells.
   */
  backend?: BackendKind;
  /** Size of the shared memory, fixed for the registry's life; rounded up to 64 KiB pages. Default 4 MiB. */
  capacityBytes?: number;
  /**
   * Owned stripes per striped set, a power of two (1..256). Default: sized to the machine,
   * the power of two at or above 1.5 threads per core plus one (4 on 2 cores, 16 on 8).
   */
  stripes?: number;
}

export interface AttachOptions {
  /** Each thread chooses its own backend; all backends share the same cells. Default `'auto'`. */
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
  /**
   * The compiled core (`WebAssembly.Module`). `attach` checks that it is this build's core
   * (optional: a handle without it is accepted) but never runs it: each thread runs its
   * own compilation of the core it ships with.
   */
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
   * Use it for counters on a hot path: an unstriped `inc` is a 64-bit atomic add, a call
   * into Wasm with the default backend and a BigInt `Atomics.add` with `backend: 'js'`,
   * while a striped one is a plain load and store (measured on Node 20: about 5x cheaper
   * with the 'js' backend, 4x with 'auto').
   */
  striped?: boolean;
}

/** How much of the shared memory is in use, as `usage()` reports it. */
export interface RegistryUsage {
  /** Bytes handed out so far: header, directory, stripe-slot table, entries, and abandoned bytes. */
  readonly usedBytes: number;
  readonly capacityBytes: number;
  /**
   * Entries in the directory: records that pass the bounds checks, less those this
   * attachment has already found corrupt.
   */
  readonly entries: number;
  /**
   * Bytes allocated for entries that were never published: a thread that lost a race
   * to create a name gives its bytes back unless another allocation followed its own.
   * Included in `usedBytes`.
   */
  readonly abandonedBytes: number;
  /**
   * Directory entries this attachment found corrupt (bytes in shared memory outside the
   * layout's bounds) and skipped; each is reported once with a process warning.
   */
  readonly corruptRecords: number;
  /** Owned stripes per striped set. */
  readonly stripes: number;
  /** Owned stripes held now by registry objects of any thread (at most `stripes`). */
  readonly slotsInUse: number;
  /** Registry objects made on this memory so far (the creator and every attach, in every thread). */
  readonly attachments: number;
  /** Of those, the ones that found every stripe held and add to the shared stripe instead. */
  readonly attachmentsWithoutStripe: number;
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
  ...METRIC_KIND_CODES,
} as const;
export type EntryKind = keyof typeof KIND_CODES;

const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_FIELDS = 64;

function checkBackend(value: unknown): BackendKind {
  if (value === undefined) return 'auto';
  if (value !== 'auto' && value !== 'wasm' && value !== 'js') {
    throw new InvalidOptionsError('backend', `must be 'auto', 'wasm' or 'js', got ${String(value)}`);
  }
  return value;
}

export function checkName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') throw new InvalidOptionsError(what, 'must be a string');
  if (name.length === 0) throw new InvalidOptionsError(what, 'must not be empty');
  // A lone surrogate has no UTF-8 form: encoding turns it into U+FFFD, so '\uD800',
  // '\uDC00' and '\uFFFD' would all name one entry.
  if (!(name as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidOptionsError(what, `must be well-formed UTF-16 (no lone surrogates), got ${JSON.stringify(name)}`);
  }
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

/** @internal A directory record whose signature parses and fits the record's data. */
export interface CheckedRecord extends RecordInfo {
  readonly kindName: EntryKind;
  /** The signature without its kind. */
  readonly descriptor: Record<string, unknown>;
}

// The record with its parsed signature, or why the signature does not describe the
// record: the kind must be known and match the record's kind code, and the data must have
// exactly the size the described entry needs, so readers built from the signature stay
// inside the record's own cells.
function checkSignature(r: RecordInfo, stripes: number): CheckedRecord | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.signature);
  } catch {
    return 'its signature is not JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'its signature is not a JSON object';
  const { kind, ...descriptor } = parsed as Record<string, unknown>;
  if (typeof kind !== 'string' || !Object.hasOwn(KIND_CODES, kind)) return `unknown kind ${JSON.stringify(kind)}`;
  const kindName = kind as EntryKind;
  if (KIND_CODES[kindName] !== r.kind) return `kind code ${r.kind} does not match the kind ${kind}`;
  // The metric kinds check their own descriptors when a family is opened (kinds/): a
  // descriptor they refuse is skipped then, and every series read is checked against the
  // record's data bytes (metric-base.ts), so only the JSON shape is checked here.
  if (Object.hasOwn(METRIC_KIND_CODES, kindName)) return { ...r, kindName, descriptor };
  let expected: number;
  if (kindName === 'circuitBreaker') {
    // The rate window's ring is there only when the policy is on (breaker/layout.ts).
    expected = breakerGeometry(stripes, descriptor.windowMs !== null && descriptor.windowMs !== undefined).dataBytes;
  } else {
    try {
      checkFields(descriptor.fields);
    } catch {
      return 'its field list is not valid';
    }
    if (typeof descriptor.striped !== 'boolean') return 'its striping is not a boolean';
    expected = setGeometry((descriptor.fields as string[]).length, descriptor.striped, stripes).dataBytes;
  }
  if (r.dataBytes !== expected) return `${r.dataBytes} data bytes, where a ${kind} like this one needs ${expected}`;
  return { ...r, kindName, descriptor };
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


/**
 * @internal Something opened through a registry object that writes its owned stripe:
 * `retireStripe()` switches it to the shared stripe for good (see releaseStripe).
 */
export interface StripeWriter {
  retireStripe(): void;
}

function isStripeWriter(v: unknown): v is StripeWriter {
  return typeof v === 'object' && v !== null && typeof (v as Partial<StripeWriter>).retireStripe === 'function';
}

interface OpenEntry {
  readonly signature: string;
  readonly kind: EntryKind;
  readonly value: unknown;
}

export class StatsRegistry implements SlotHolder {
  /** The backend this thread uses. */
  readonly backend: BackendKind;
  /** Size of the shared memory in bytes. */
  readonly capacityBytes: number;
  /** Owned stripes per striped set. */
  readonly stripes: number;
  /** @internal This object's view of the stripe-slot table (src/slots.ts). */
  readonly table: SlotTable;
  /** @internal */ readonly ops: CellOps;
  /**
   * @internal This thread's instance of the core on the registry's memory (wasm backend
   * only). Components cast it to the exports they declare.
   */
  readonly core: CoreExports | undefined;
  /** @internal */ readonly views: MemoryViews;
  /** @internal This attachment's view of the shared directory (header bounds taken once). */
  readonly directory: Directory;
  private readonly memory: WebAssembly.Memory;
  private readonly open = new Map<string, OpenEntry>();
  // The owned stripe (an index of the slot table), or -1. Read only when a handle is
  // opened; handles keep their own copy, so no hot path reads it.
  private owned: number;
  private slotValue: number;
  private isClosed = false;
  // Everything opened through this object that writes the owned stripe, weakly: on
  // release each is switched to the shared stripe before the slot is handed back.
  private writers: WeakRef<StripeWriter>[] = [];
  private writersAfterPrune = 0;
  private readonly watched: WeakRef<SlotHolder>;

  private constructor(memory: WebAssembly.Memory, backend: BackendKind, bounds: DirectoryBounds) {
    this.memory = memory;
    this.backend = backend;
    this.views = views(memory);
    this.capacityBytes = bounds.capacity;
    this.stripes = bounds.stripes;
    this.directory = new Directory(this.views, bounds);
    // Always this thread's compilation of the bytes this build embeds, never a module
    // that came in a handle (wasm-module.ts explains why that costs little).
    this.core = backend !== 'js' ? instantiateCore(coreModule(), memory) : undefined;
    this.ops = this.core === undefined ? jsCellOps(memory) : backend === 'auto' ? autoCellOps(this.core, memory) : wasmCellOps(this.core);
    const i32 = this.views.i32;
    // The table's place was checked once, with the other fixed header fields (readBounds).
    this.table = { i32, word: bounds.slotTable >>> 2, count: this.stripes };
    Atomics.add(i32, H_NEXT_SLOT, 1);
    this.owned = claimSlot(this.table);
    // Without a stripe: a number >= stripes, distinct per such attachment (the table's
    // trailer counts them), as before slots were reused.
    this.slotValue = this.owned >= 0 ? this.owned : this.stripes + (Atomics.add(i32, this.fallbackWord(), 1) >>> 0);
    this.watched = watch(this);
  }

  // The trailer word after the table's entries: attachments that found every stripe held.
  private fallbackWord(): number {
    return this.table.word + this.table.count * (SLOT_ENTRY_BYTES / 4);
  }

  /**
   * Which stripe this object owns: `0 <= slot < stripes` means stripe `slot` of every
   * striped set (its plain-store writer); `slot >= stripes` means every stripe was held
   * when it attached, so it adds atomically to the sets' shared stripe; `-1` means it
   * holds no stripe any more (closed, or its thread is exiting).
   */
  get slot(): number {
    return this.slotValue;
  }

  /** True once {@link close} has run. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Hands this object's stripe back for the next attachment (in any thread) to take over,
   * counts intact. Every handle opened through this object keeps working: from now on it
   * adds atomically to the shared stripe, so nothing it records is lost. Every method of
   * the registry object then throws RegistryClosedError. Idempotent. Other registry
   * objects on the same memory, in this thread or others, are not affected.
   */
  close(): void {
    if (this.isClosed) return;
    this.releaseStripe();
    this.isClosed = true;
    this.slotValue = -1;
    unwatch(this.watched);
  }

  /** The same as {@link close}, for `using registry = StatsRegistry.attach(...)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * @internal Switches every handle to the shared stripe, then releases the slot (the
   * order is what makes the handover safe: this thread writes the stripe no more).
   */
  releaseStripe(): void {
    if (this.owned < 0) return;
    for (const ref of this.writers) ref.deref()?.retireStripe();
    this.writers = [];
    releaseSlot(this.table, this.owned);
    this.owned = -1;
    this.slotValue = -1;
  }

  /** @internal Registers an object that writes this object's owned stripe (see releaseStripe). */
  trackWriter(writer: StripeWriter): void {
    if (this.owned < 0) return;
    this.writers.push(new WeakRef(writer));
    if (this.writers.length > 2 * this.writersAfterPrune + 64) {
      this.writers = this.writers.filter((r) => r.deref() !== undefined);
      this.writersAfterPrune = this.writers.length;
    }
  }

  private checkOpen(): void {
    if (this.isClosed) throw new RegistryClosedError();
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
    let stripes = defaultStripes(availableParallelism());
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
    const table = slotTableOffset(dirSlots);
    i32[H_SLOT_TABLE] = table;
    i32[H_SLOT_COUNT] = stripes;
    // The entries, then one trailer entry (the count of attachments without a stripe).
    i32[H_ALLOC_TOP] = alignUp(table + (stripes + 1) * SLOT_ENTRY_BYTES, BLOCK);
    // The records start where the bump pointer starts, whatever lies before it.
    i32[H_RECORDS_START] = i32[H_ALLOC_TOP]!;
    // Magic last: a header with the magic is complete. (Other threads only see the
    // memory through a handle posted after this, which orders these writes anyway.)
    Atomics.store(i32, H_MAGIC, MAGIC);
    const bounds = readBounds(i32, capacity) as DirectoryBounds;
    return new StatsRegistry(memory, backend, bounds);
  }

  /**
   * Attaches this thread to a registry created elsewhere, from its `handle`. The new
   * object takes a free stripe if there is one (see {@link slot}); attach once per thread
   * and keep the object, or {@link close} it when done (docs/worker-pools.md).
   */
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
    const size = buffer.byteLength;
    if (size % PAGE_BYTES !== 0 || size < MIN_CAPACITY_BYTES || size > MAX_CAPACITY_BYTES) {
      throw new InvalidHandleError(`memory of ${size} bytes is not a registry's size (whole 64 KiB pages, ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES})`);
    }
    // Before anything is read from it: a memory that can grow would leave every
    // thread's views stale.
    if (!isFixedSize(h.memory, size)) throw new InvalidHandleError('memory can grow (its maximum is larger than its size)');
    const i32 = new Int32Array(buffer);
    if (Atomics.load(i32, H_MAGIC) !== MAGIC) throw new InvalidHandleError('wrong magic number in the memory header');
    if (i32[H_VERSION] !== LAYOUT_VERSION || h.layoutVersion !== LAYOUT_VERSION) {
      throw new InvalidHandleError(
        `layout version ${String(i32[H_VERSION])} (handle says ${String(h.layoutVersion)}), this build reads version ${LAYOUT_VERSION}`,
      );
    }
    const bounds = readBounds(i32, size);
    if (typeof bounds === 'string') throw new InvalidHandleError(`corrupt header: ${bounds}`);
    // A module from another build means a handle from another copy of the package:
    // refused, from the module's description alone. None of its code ever runs.
    const bad = h.module === undefined ? undefined : checkCoreModule(h.module);
    if (bad !== undefined) throw new InvalidHandleError(bad);
    return new StatsRegistry(h.memory, backend, bounds);
  }

  /** A structured-cloneable value to send to another thread; see {@link StatsRegistry.attach}. */
  get handle(): RegistryHandle {
    this.checkOpen();
    return {
      type: 'atomic-stats/registry',
      layoutVersion: LAYOUT_VERSION,
      memory: this.memory as SharedWasmMemory,
      module: coreModule(),
    };
  }

  /**
   * Gets or creates the counter set `name` with these fields. Every thread asking for the
   * same name with the same fields and striping gets the same cells; another field list,
   * another striping, or a name used for another kind throws NameConflictError.
   */
  counters<const F extends string>(name: string, fields: readonly F[], options?: CounterSetOptions): CounterSet<F> {
    this.checkOpen();
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
    this.checkOpen();
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
  stepExecutionStats(name: string, options?: StepStatsOptions): StepExecutionStats {
    this.checkOpen();
    return openStepExecutionStats(this, name, options);
  }

  /** Gets or creates the event-bus stats `name` (striped by default); see EventBusStats. */
  eventBusStats(name: string, options?: StatsOptions): EventBusStats {
    this.checkOpen();
    return openEventBusStats(this, name, options);
  }

  /** Gets or creates the completion-listener stats `name` (striped by default); see WorkerSubscriberStats. */
  workerSubscriberStats(name: string, options?: StatsOptions): WorkerSubscriberStats {
    this.checkOpen();
    return openWorkerSubscriberStats(this, name, options);
  }

  /**
   * Gets or creates the counter metric `name`, shared by every thread (docs/metrics.md).
   * The same definition from any thread is the same metric; another throws NameConflictError.
   */
  counter(configuration: CounterConfiguration): CounterMetric {
    this.checkOpen();
    return counterKind.open(this, configuration);
  }

  /** Gets or creates the gauge metric `name`, shared by every thread (docs/metrics.md). */
  gauge(configuration: GaugeConfiguration): GaugeMetric {
    this.checkOpen();
    return gaugeKind.open(this, configuration);
  }

  /** Gets or creates the histogram metric `name`, shared by every thread (docs/metrics.md). */
  histogram(configuration: HistogramConfiguration): HistogramMetric {
    this.checkOpen();
    return histogramKind.open(this, configuration);
  }

  /**
   * One read of every entry of the registry, created by any thread, as metric families
   * (what the Prometheus and OpenTelemetry adapters export). Reads the shared memory
   * only: no message to any worker. See `collectFamilies` for the naming.
   */
  collect(options?: CollectOptions): MetricFamily[] {
    this.checkOpen();
    return collectFamilies(this, options);
  }

  /**
   * The directory's entries, as any thread sees them now. Entries whose bytes in shared
   * memory are corrupt are left out (see `usage().corruptRecords`).
   */
  entries(): RegistryEntry[] {
    this.checkOpen();
    return this.checkedRecords().map((r) => ({ name: r.name, kind: r.kindName, descriptor: r.descriptor }));
  }

  /**
   * Bytes of the shared memory in use (header, directory, slot table, entries) and in
   * all, how many entries there are, and how the stripes are shared out among
   * attachments (every thread's). Checks every entry's bounds but decodes none.
   */
  usage(): RegistryUsage {
    this.checkOpen();
    const entries = this.directory.count();
    return {
      usedBytes: this.directory.usedBytes(),
      capacityBytes: this.capacityBytes,
      entries,
      abandonedBytes: this.directory.abandonedBytes(),
      corruptRecords: this.directory.corruptRecords(),
      ...this.stripeUsage(),
    };
  }

  /** @internal The stripe part of usage(), without walking the directory (collect() uses it). */
  stripeUsage(): Pick<RegistryUsage, 'stripes' | 'slotsInUse' | 'attachments' | 'attachmentsWithoutStripe'> {
    const i32 = this.views.i32;
    return {
      stripes: this.stripes,
      slotsInUse: slotsInUse(this.table),
      attachments: Atomics.load(i32, H_NEXT_SLOT) >>> 0,
      attachmentsWithoutStripe: Atomics.load(i32, this.fallbackWord()) >>> 0,
    };
  }

  /**
   * @internal Every directory record that passes the bounds checks and whose signature
   * describes it; the others are reported once and skipped.
   */
  checkedRecords(): CheckedRecord[] {
    const out: CheckedRecord[] = [];
    const names = new Set<string>();
    for (const r of this.directory.list()) {
      const c = checkSignature(r, this.stripes);
      if (typeof c === 'string') this.directory.reportCorrupt(r.slot, r.offset, c);
      // Names are unique in a sound directory; exporters rely on it for their labels.
      else if (names.has(c.name)) this.directory.reportCorrupt(r.slot, r.offset, `a second record named ${JSON.stringify(c.name)}`);
      else {
        names.add(c.name);
        out.push(c);
      }
    }
    this.directory.flushReports();
    return out;
  }

  /** @internal Reports a record found corrupt by a reader (e.g. a breaker config that does not validate). */
  reportCorrupt(r: RecordInfo, reason: unknown): void {
    this.directory.reportCorrupt(r.slot, r.offset, reason instanceof AtomicStatsError ? reason.message : String(reason));
    this.directory.flushReports();
  }

  /** @internal This thread's owned stripe for a set, or -1 to use the shared stripe. */
  ownedStripe(striped: boolean): number {
    return striped ? this.owned : -1;
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
    const record: RecordInfo = this.directory.findOrCreate({ name, kind: KIND_CODES[kind], signature, dataBytes });
    if (record.signature !== signature) {
      // Another entry's description, or bytes that describe nothing (some thread wrote
      // over them): a conflict only in the first case.
      const stored = checkSignature(record, this.stripes);
      if (typeof stored === 'string') {
        this.directory.reportCorrupt(record.slot, record.offset, stored);
        this.directory.flushReports();
        throw new CorruptRegistryError(name, stored);
      }
      // Opened by kind alone (a breaker by name): any sound entry of this kind will do. Its
      // own signature says its layout, checkSignature checked that its data has that size,
      // and `build` lays the entry out from that signature.
      if (!(anyOfKind && stored.kindName === kind)) {
        throw new NameConflictError(name, describeSignature(record.signature), describeSignature(signature));
      }
    } else if (record.dataBytes !== dataBytes || record.kind !== KIND_CODES[kind]) {
      // Same signature, so the data must have the size this signature needs: the cells
      // this thread is about to write lie within it.
      throw new CorruptRegistryError(name, `its record holds ${record.dataBytes} data bytes of kind ${record.kind}, where it needs ${dataBytes} of kind ${KIND_CODES[kind]}`);
    }
    const value = build(record.dataOffset, record.signature);
    if (isStripeWriter(value)) this.trackWriter(value);
    this.open.set(name, { signature: record.signature, kind, value });
    return value;
  }
}
