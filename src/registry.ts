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
import { availableParallelism } from 'node:os';
import type { BackendKind, CellOps } from './backend.js';
import { jsCellOps } from './backend-js.js';
import { type CollectOptions, type MetricFamily, collectFamilies } from './export/collect.js';
import { type CircuitBreaker, type CircuitBreakerConfig, type CircuitBreakerOptions, openCircuitBreaker } from './breaker/index.js';
import { wasmCellOps } from './backend-wasm.js';
import { autoCellOps } from './backend-auto.js';
import { CounterSet } from './counter-set.js';
import { Directory, type DirectoryBounds, type MemoryViews, type RecordInfo, readBounds, utf8 } from './directory.js';
import { AtomicStatsError, CorruptRegistryError, InvalidHandleError, InvalidOptionsError, NameConflictError } from './errors.js';
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
  defaultStripes,
  setGeometry,
} from './layout.js';
import { type CoreExports, checkCoreModule, coreModule, instantiateCore, isFixedSize } from './wasm-module.js';
import type { EventBusStats, StatsOptions, StepExecutionStats, WorkerSubscriberStats } from './stats/index.js';
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
   */
  striped?: boolean;
}

/** How much of the shared memory is in use, as `usage()` reports it. */
export interface RegistryUsage {
  /** Bytes handed out so far: header, directory, entries, and abandoned bytes. */
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
  let expected: number;
  if (kindName === 'circuitBreaker') {
    expected = breakerGeometry(stripes).dataBytes;
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

interface OpenEntry {
  readonly signature: string;
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
  /** @internal This attachment's view of the shared directory (header bounds taken once). */
  readonly directory: Directory;
  private readonly memory: WebAssembly.Memory;
  private readonly open = new Map<string, OpenEntry>();

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
    i32[H_ALLOC_TOP] = alignUp(HEADER_BYTES + dirSlots * 4, BLOCK);
    // The records start where the bump pointer starts, whatever lies before it.
    i32[H_RECORDS_START] = i32[H_ALLOC_TOP]!;
    // Magic last: a header with the magic is complete. (Other threads only see the
    // memory through a handle posted after this, which orders these writes anyway.)
    Atomics.store(i32, H_MAGIC, MAGIC);
    const bounds = readBounds(i32, capacity) as DirectoryBounds;
    return new StatsRegistry(memory, backend, bounds);
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
   * (the README, "Circuit breaker"). Another config for the same name throws NameConflictError.
   */
  circuitBreaker(name: string, config?: CircuitBreakerConfig, options?: CircuitBreakerOptions): CircuitBreaker {
    return openCircuitBreaker(this, name, config, options);
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

  /**
   * The directory's entries, as any thread sees them now. Entries whose bytes in shared
   * memory are corrupt are left out (see `usage().corruptRecords`).
   */
  entries(): RegistryEntry[] {
    return this.checkedRecords().map((r) => ({ name: r.name, kind: r.kindName, descriptor: r.descriptor }));
  }

  /**
   * Bytes of the shared memory in use (header, directory, entries) and in all, and how
   * many entries there are. Checks every entry's bounds but decodes none.
   */
  usage(): RegistryUsage {
    const entries = this.directory.count();
    return {
      usedBytes: this.directory.usedBytes(),
      capacityBytes: this.capacityBytes,
      entries,
      abandonedBytes: this.directory.abandonedBytes(),
      corruptRecords: this.directory.corruptRecords(),
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
    // The slot came from a counter in shared memory: a negative one (written by some
    // thread) means no owned stripe, like a slot beyond the stripe count.
    return striped && this.slot >= 0 && this.slot < this.stripes ? this.slot : -1;
  }

  /**
   * @internal Get-or-create of any kind of entry: checks the signature against what is
   * registered (in this thread's cache, then in the shared directory) and builds this
   * thread's object for it once.
   */
  openEntry<T>(name: string, kind: EntryKind, descriptor: Record<string, unknown>, dataBytes: number, build: (dataOffset: number) => T): T {
    const signature = JSON.stringify({ kind, ...descriptor });
    const cached = this.open.get(name);
    if (cached !== undefined) {
      if (cached.signature !== signature) {
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
      throw new NameConflictError(name, describeSignature(record.signature), describeSignature(signature));
    }
    // Same signature, so the data must have the size this signature needs: the cells
    // this thread is about to write lie within it.
    if (record.dataBytes !== dataBytes || record.kind !== KIND_CODES[kind]) {
      throw new CorruptRegistryError(name, `its record holds ${record.dataBytes} data bytes of kind ${record.kind}, where it needs ${dataBytes} of kind ${KIND_CODES[kind]}`);
    }
    const value = build(record.dataOffset);
    this.open.set(name, { signature, value });
    return value;
  }
}
