/*
 * The registry core: one shared WebAssembly.Memory holding a directory of named entries,
 * usable from every worker thread, and everything every kind of entry builds on (the
 * header, create / attach / handle, get-or-create of an entry, the owned stripe, the
 * listing and the usage). It knows no kind's module, only the descriptor type (kind.ts):
 * the façade hands it the table of kinds (kind-table.ts) when it makes a registry object,
 * a record is checked against the row its signature names (signature.ts), and each kind
 * opens its entries through `openEntry` with its own descriptor. The backend is bound
 * once per object too (ops/bind.ts): everything opened through it takes its operations
 * from `ops`. StatsRegistry (registry.ts) is the façade on top that adds one method per
 * kind; the kinds and components import this core, never the façade, so the imports form
 * layers.
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
 * by then; not on Deno, where that event comes before). The next attachment takes the
 * stripe over with its counts intact and continues the plain stores on the same cells.
 * src/slots.ts has the protocol and the worst case (a terminated worker nobody watched,
 * or any terminated worker on Deno, keeps its stripe).
 *
 * Each registry object claims its own stripe, even two in one thread: an object is the
 * unit that is closed, and its handles are the ones switched to the shared stripe. So
 * attach once per thread and share the object. An attachment that finds every stripe
 * held adds atomically to the sets' shared stripe for its whole life: still exact, only
 * contended. `usage()` reports the stripes in use.
 */
import { availableParallelism } from 'node:os';
import type { BackendKind } from './backend.js';
import { Directory, type DirectoryBounds, type MemoryViews, type RecordInfo, readBounds } from './directory.js';
import { AtomicStatsError, CorruptRegistryError, InvalidHandleError, NameConflictError, RegistryClosedError, describe } from './errors.js';
import type { CheckedRecord, EntryKind } from './kind.js';
import {
  DEFAULT_CAPACITY_BYTES,
  HEADER_BYTES,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_INFLATED_BYTES,
  H_INFLATIONS_REFUSED,
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
  MAX_STRIPES,
  MIN_CAPACITY_BYTES,
  PAGE_BYTES,
  SLOT_ENTRY_BYTES,
  alignUp,
  directorySlotsFor,
  defaultStripes,
  slotTableOffset,
} from './layout.js';
import { keyHolding, thrownText } from './handle-hint.js';
import { type OpSets, bindOps } from './ops/bind.js';
import { type ParsedSignature, checkRecord, describeSignature, parseSignature } from './signature.js';
import { type SlotHolder, type SlotTable, claimSlot, releaseSlot, slotsInUse, unwatch, watch } from './slots.js';
import { checkBackend, checkIntIn, checkOptionsObject, checkPowerOfTwoIn } from './validate.js';
import { checkCoreModule, coreModule, isFixedSize, sharedMemoryBuffer } from './wasm-module.js';

export interface RegistryOptions {
  /**
   * Which implementation this thread uses for the operations on shared cells: `'auto'`
   * (the default: each operation from whichever is faster at it, which is plain JS stores
   * for this thread's own stripe of integer counters and stats, and the Wasm core for
   * every operation that needs an atomic instruction: shared adds, reads, the circuit
   * breaker's state, and every float cell of gauges, float counters and histograms),
   * `'wasm'` (the Wasm core for everything) or `'js'` (no WebAssembly: `Atomics` on the
   * same memory). All three share the same cells.
   */
  backend?: BackendKind;
  /** Size of the shared memory, fixed for the registry's life; rounded up to 64 KiB pages. Default 4 MiB. */
  capacityBytes?: number;
  /**
   * Owned stripes per striped set, a power of two (1..256). Default: sized to the machine
   * for piscina's default pool (1.5 threads per core), the main thread, and as many
   * threads again being replaced: the power of two at or above 2 × ceil(1.5 × cores) + 1
   * (8 on 2 cores, 32 on 8). Size it yourself for a larger pool (docs/worker-pools.md).
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
   * Bytes of stripe blocks given to series that threads contended on (counters, gauges
   * and histograms whose `striped` is `'adaptive'`, the default): reused when such a series is
   * removed, never given back to the registry. Included in `usedBytes`.
   */
  readonly inflatedBytes: number;
  /** Contended series that stayed on their shared cells because the registry had no room for their stripes (exact, but slower). */
  readonly inflationsRefused: number;
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

/**
 * What a registry object is made from: a checked memory, its header's bounds and this
 * thread's backend. Only `StatsRegistry.create` and `StatsRegistry.attach` make one.
 */
export interface RegistryMemory {
  /** A shared `WebAssembly.Memory`, typed structurally like RegistryHandle's. */
  readonly memory: SharedWasmMemory;
  readonly backend: BackendKind;
  readonly bounds: DirectoryBounds;
}

function views(memory: WebAssembly.Memory): MemoryViews {
  return { i32: new Int32Array(memory.buffer), u8: new Uint8Array(memory.buffer) };
}

/** A kind as this core knows it: its descriptor, read through a registry object. */
export type Kind = EntryKind<RegistryCore>;

/** The kinds a registry object reads and writes: kind-table.ts's, handed over by the façade. */
export type KindTable = readonly Kind[];

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
  readonly kind: Kind;
  readonly value: unknown;
}

/** @internal A new registry's memory, checked options and header bounds (StatsRegistry.create). */
export function createRegistryMemory(options: RegistryOptions | undefined): RegistryMemory {
  const o = checkOptionsObject(options, ['backend', 'capacityBytes', 'stripes'], 'options');
  const backend = checkBackend(o.backend);
  let capacity = DEFAULT_CAPACITY_BYTES;
  if (o.capacityBytes !== undefined) {
    capacity = alignUp(checkIntIn(o.capacityBytes, 'capacityBytes', MIN_CAPACITY_BYTES, MAX_CAPACITY_BYTES), PAGE_BYTES);
  }
  let stripes = defaultStripes(availableParallelism());
  if (o.stripes !== undefined) stripes = checkPowerOfTwoIn(o.stripes, 'stripes', 1, MAX_STRIPES);
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
  return { memory, backend, bounds };
}

const REGISTRY_TAG = 'atomic-stats/registry';

/**
 * Why `value`, which is not a registry handle, was passed, as far as it shows: the usual
 * mistakes are passing the registry itself, an object holding the handle (workerData, a
 * message), or another kind of handle. Error path only, so reading more of `value` here is
 * fine; a read that throws just gives no hint.
 */
function wrongHandle(value: object, type: unknown): InvalidHandleError {
  if (value instanceof RegistryCore) return new InvalidHandleError('got the registry object itself: pass registry.handle, not the registry');
  if (type === 'atomic-stats/broadcast-receiver') {
    return new InvalidHandleError('got a broadcast receiver handle: pass it to BroadcastReceiver.fromHandle; attach takes the object from registry.handle');
  }
  const holder = keyHolding(value, REGISTRY_TAG);
  if (holder !== undefined) {
    return new InvalidHandleError(
      `got an object holding a registry handle in its ${JSON.stringify(holder)} property: pass the handle itself (value.${holder}), not the object around it`,
    );
  }
  return new InvalidHandleError(`its type tag is ${describe(type)}, expected "${REGISTRY_TAG}": pass the object from registry.handle`);
}

/**
 * @internal Checks a handle from another thread and the memory it carries, before
 * anything is read from it past the header (StatsRegistry.attach).
 *
 * Each field of the handle is read exactly once, into a local that every check and the
 * result then use: a getter (or a Proxy trap) that answered differently on a second read
 * could otherwise have one memory checked and another attached.
 */
export function attachRegistryMemory(handle: RegistryHandle, options: AttachOptions | undefined): RegistryMemory {
  const o = checkOptionsObject(options, ['backend'], 'options');
  const backend = checkBackend(o.backend);
  if (handle === null || typeof handle !== 'object') {
    throw new InvalidHandleError(`expected the object from registry.handle, got ${describe(handle)}`);
  }
  let type: unknown;
  let layoutVersion: unknown;
  let memory: unknown;
  let module: unknown;
  try {
    type = (handle as { type?: unknown }).type;
    if (type !== REGISTRY_TAG) throw wrongHandle(handle, type);
    layoutVersion = (handle as { layoutVersion?: unknown }).layoutVersion;
    memory = (handle as { memory?: unknown }).memory;
    module = (handle as { module?: unknown }).module;
  } catch (err) {
    if (err instanceof InvalidHandleError) throw err;
    throw new InvalidHandleError(`reading its fields threw (${thrownText(err)})`);
  }
  // A real, shared Memory, its buffer read through the intrinsic getter: never a Proxy's.
  const buffer = sharedMemoryBuffer(memory);
  if (typeof buffer === 'string') throw new InvalidHandleError(buffer);
  const mem = memory as WebAssembly.Memory;
  const size = buffer.byteLength;
  if (size % PAGE_BYTES !== 0 || size < MIN_CAPACITY_BYTES || size > MAX_CAPACITY_BYTES) {
    throw new InvalidHandleError(`memory of ${size} bytes is not a registry's size (whole 64 KiB pages, ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES})`);
  }
  // Before anything is read from it: a memory that can grow would leave every
  // thread's views stale.
  if (!isFixedSize(mem, size)) throw new InvalidHandleError('memory can grow (its maximum is larger than its size)');
  const i32 = new Int32Array(buffer);
  if (Atomics.load(i32, H_MAGIC) !== MAGIC) throw new InvalidHandleError('wrong magic number in the memory header');
  if (i32[H_VERSION] !== LAYOUT_VERSION || layoutVersion !== LAYOUT_VERSION) {
    throw new InvalidHandleError(
      `layout version ${String(i32[H_VERSION])} (handle says ${describe(layoutVersion)}), this build reads version ${LAYOUT_VERSION}`,
    );
  }
  const bounds = readBounds(i32, size);
  if (typeof bounds === 'string') throw new InvalidHandleError(`corrupt header: ${bounds}`);
  // A module from another build means a handle from another copy of the package:
  // refused, from the module's description alone. None of its code ever runs.
  const bad = module === undefined ? undefined : checkCoreModule(module);
  if (bad !== undefined) throw new InvalidHandleError(bad);
  return { memory: mem, backend, bounds };
}

/**
 * What every registry object is, whichever kinds it offers: the shared memory, this
 * thread's backend and owned stripe, the directory, and close / dispose. Get a registry
 * from `StatsRegistry.create()` or `StatsRegistry.attach(handle)`.
 */
// Not declared `implements SlotHolder`: the slot-table members are internal, left out of
// the published declarations, where the clause would then not hold. `watch(this)` checks
// the shape anyway.
export class RegistryCore {
  /** The backend this thread uses. */
  readonly backend: BackendKind;
  /** Size of the shared memory in bytes. */
  readonly capacityBytes: number;
  /** Owned stripes per striped set. */
  readonly stripes: number;
  /** @internal This object's view of the stripe-slot table (src/slots.ts). */
  readonly table: SlotTable;
  /** @internal This object's operations on shared cells, bound once for its backend (ops/bind.ts). */
  readonly ops: OpSets;
  /** @internal */ readonly views: MemoryViews;
  /** @internal This attachment's view of the shared directory (header bounds taken once). */
  readonly directory: Directory;
  private readonly memory: WebAssembly.Memory;
  private readonly open = new Map<string, OpenEntry>();
  // The table of kinds, by the name signatures carry.
  private readonly kinds: ReadonlyMap<string, Kind>;
  // Signature texts parsed by the last checkedRecords() (see there).
  private parsedSignatures = new Map<string, ParsedSignature<Kind> | string>();
  // Each listed record's check, by the directory's record object (see checkedRecords).
  private readonly checks = new WeakMap<RecordInfo, CheckedRecord<Kind> | string>();
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

  protected constructor(opened: RegistryMemory, kinds: KindTable) {
    const { backend, bounds } = opened;
    this.kinds = kindsByName(kinds);
    const memory = opened.memory as WebAssembly.Memory;
    this.memory = memory;
    this.backend = backend;
    this.views = views(memory);
    this.capacityBytes = bounds.capacity;
    this.stripes = bounds.stripes;
    this.directory = new Directory(this.views, bounds);
    this.ops = bindOps(backend, memory);
    const i32 = this.views.i32;
    // The table's place was checked once, with the other fixed header fields (readBounds).
    this.table = { i32, word: bounds.slotTable >>> 2, count: this.stripes };
    Atomics.add(i32, H_NEXT_SLOT, 1);
    this.owned = claimSlot(this.table);
    // Without a stripe: a number >= stripes, distinct per such attachment (the table's
    // trailer counts them), as before slots were reused.
    this.slotValue = this.owned >= 0 ? this.owned : this.stripes + (Atomics.add(i32, this.fallbackWord(), 1) >>> 0);
    this.watched = watch(this, this.owned >= 0);
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
   * counts intact. Every handle opened through this object keeps working and is never
   * refused: counter sets, stats structs, breakers, event buses, metrics and every child
   * they made or make later through `labels()` add atomically to the shared stripe from
   * now on, so each write is counted exactly, even while the stripe's next owner writes
   * it. Every method of the registry object itself then throws RegistryClosedError.
   * Idempotent. Other registry objects on the same memory, in this thread or others, are
   * not affected.
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

  /**
   * @internal Thread `id` has stopped (its Worker's 'exit' event, slots.ts): the claims it
   * held in flight (a metric family's claims, kinds/claims.ts) are handed back by the
   * kinds. One pass over the records, on each worker exit this thread sees.
   */
  threadEnded(id: number): void {
    if (this.isClosed) return;
    const i32 = this.views.i32;
    // Quietly: a corrupt record is reported by the application's own next listing, not
    // from inside a worker's 'exit' event. checkedRecord reports nothing either.
    for (const info of this.directory.listQuietly()) {
      const r = this.checkedRecord(info);
      if (typeof r !== 'string') r.entryKind.threadEnded?.(i32, r.descriptor, r.dataOffset, r.dataBytes, id);
    }
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

  /** @internal Throws RegistryClosedError once {@link close} has run. */
  checkOpen(): void {
    if (this.isClosed) throw new RegistryClosedError();
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
      inflatedBytes: Atomics.load(this.views.i32, H_INFLATED_BYTES) >>> 0,
      inflationsRefused: Atomics.load(this.views.i32, H_INFLATIONS_REFUSED) >>> 0,
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
  checkedRecords(): CheckedRecord<Kind>[] {
    const out: CheckedRecord<Kind>[] = [];
    const names = new Set<string>();
    // Parsing every signature's JSON was most of a collect() of 1,000 entries, and a scrape
    // lists every entry each time. The directory hands out the same record object for as
    // long as the record's head is unchanged (any change decodes a new one), and a record's
    // check follows from it alone, so each is checked once and kept, weakly, by that
    // object. Records met for the first time are parsed by signature text, kept from one
    // listing to the next (rebuilt from this listing's new records only, so the map never
    // holds more than the directory does; a text a corrupt write changed is parsed anew).
    const previous = this.parsedSignatures;
    const parsed = new Map<string, ParsedSignature<Kind> | string>();
    for (const r of this.directory.list()) {
      let c = this.checks.get(r);
      if (c === undefined) {
        let p = parsed.get(r.signature) ?? previous.get(r.signature);
        if (p === undefined) p = parseSignature(r.signature, this.stripes, this.kinds);
        parsed.set(r.signature, p);
        c = checkRecord(r, p);
        this.checks.set(r, c);
      }
      if (typeof c === 'string') this.directory.reportCorrupt(r.slot, r.offset, c);
      // Names are unique in a sound directory; exporters rely on it for their labels.
      else if (names.has(c.name)) this.directory.reportCorrupt(r.slot, r.offset, `a second record named ${JSON.stringify(c.name)}`);
      else {
        names.add(c.name);
        out.push(c);
      }
    }
    this.directory.flushReports();
    this.parsedSignatures = parsed;
    return out;
  }

  /**
   * @internal One record's signature checked against this object's table of kinds (as a
   * listing checks it; reasons are not reported here), or why it describes no entry.
   */
  checkedRecord(r: RecordInfo): CheckedRecord<Kind> | string {
    return checkRecord(r, this.parsedSignatures.get(r.signature) ?? parseSignature(r.signature, this.stripes, this.kinds));
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
    kind: Kind,
    descriptor: Record<string, unknown>,
    dataBytes: number,
    build: (dataOffset: number, signature: string) => T,
    anyOfKind = false,
  ): T {
    // A descriptor from outside the table would write records that no listing can read.
    if (this.kinds.get(kind.name) !== kind) throw new Error(`atomic-stats: the kind ${JSON.stringify(kind.name)} is not in this registry's table of kinds`);
    const signature = JSON.stringify({ kind: kind.name, ...descriptor });
    const cached = this.open.get(name);
    if (cached !== undefined) {
      if (cached.signature !== signature && !(anyOfKind && cached.kind === kind)) {
        throw new NameConflictError(name, describeSignature(cached.signature), describeSignature(signature));
      }
      return cached.value as T;
    }
    const record: RecordInfo = this.directory.findOrCreate({ name, kind: kind.code, signature, dataBytes });
    if (record.signature !== signature) {
      // Another entry's description, or bytes that describe nothing (some thread wrote
      // over them): a conflict only in the first case.
      const stored = this.checkedRecord(record);
      if (typeof stored === 'string') {
        this.directory.reportCorrupt(record.slot, record.offset, stored);
        this.directory.flushReports();
        throw new CorruptRegistryError(name, stored);
      }
      // Opened by kind alone (a breaker by name): any sound entry of this kind will do. Its
      // own signature says its layout, checkedRecord checked that its data has that size,
      // and `build` lays the entry out from that signature.
      if (!(anyOfKind && stored.entryKind === kind)) {
        throw new NameConflictError(name, describeSignature(record.signature), describeSignature(signature));
      }
    } else if (record.dataBytes !== dataBytes || record.kind !== kind.code) {
      // Same signature, so the data must have the size this signature needs: the cells
      // this thread is about to write lie within it.
      throw new CorruptRegistryError(name, `its record holds ${record.dataBytes} data bytes of kind ${record.kind}, where it needs ${dataBytes} of kind ${kind.code}`);
    }
    const value = build(record.dataOffset, record.signature);
    if (isStripeWriter(value)) this.trackWriter(value);
    this.open.set(name, { signature: record.signature, kind, value });
    return value;
  }
}

// The table by name, checked once: a name or a code given twice would make two kinds'
// records indistinguishable.
function kindsByName(table: KindTable): ReadonlyMap<string, Kind> {
  const byName = new Map<string, Kind>();
  const codes = new Set<number>();
  for (const k of table) {
    if (byName.has(k.name) || codes.has(k.code)) throw new Error(`atomic-stats: the kind ${JSON.stringify(k.name)} (code ${k.code}) is in the table of kinds twice`);
    byName.set(k.name, k);
    codes.add(k.code);
  }
  return byName;
}
