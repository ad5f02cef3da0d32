/*
 * The lock-free directory: name -> record, shared by every thread of a registry.
 *
 * An open-addressing hash table of DIR_SLOTS u32 words (layout.ts), each 0 or the offset
 * of a record. Slots go from 0 to a record exactly once and are never cleared, so a
 * probe sequence only ever grows, and a name, once present, stays at the first slot of
 * its probe sequence that it won.
 *
 * get-or-create:
 *   1. Probe; a slot whose record has the same name (length and bytes compared, not just
 *      the hash) is the answer. The first free slot ends the search.
 *   2. Otherwise build a complete record in freshly bump-allocated memory (plain
 *      writes), then publish it with compareExchange(slot, 0, record). The CAS is
 *      sequentially consistent, so every thread that later loads the slot's word
 *      atomically sees the finished record: no thread ever reads a half-built entry, and
 *      nobody waits on a creator that might die mid-way.
 *   3. A failed CAS means another thread published that slot first. If it holds the same
 *      name, that record wins and ours is given back (below); otherwise keep probing
 *      with our record.
 * Two threads creating the same name walk the same probe sequence and compete for the
 * same slots, so exactly one record per name is ever published.
 *
 * Allocation is a CAS loop on the header's bump pointer that checks the capacity before
 * it moves the pointer, so a registry that is full rejects the call and changes nothing.
 *
 * Giving bytes back. A creator that loses the publish race (or finds the directory full
 * after allocating) zeroes the head bytes it wrote, then tries compareExchange(top,
 * record + size, record). It succeeds exactly when nothing was allocated after its
 * record, and then the next allocation reuses the bytes: they are zero again (fresh
 * memory is zero, and only the head was written; the data cells are written only after
 * a publish), and the zeroing happens-before that allocation because both go through
 * sequentially consistent operations on the same bump-pointer word. The CAS fails when
 * another allocation followed ours; those bytes then stay allocated and unused, and are
 * added to the header's abandoned-bytes count so `usage()` accounts for every byte.
 * Worst case: one record per thread that lost a creation race while another thread
 * allocated after it, so a burst of N threads creating one name abandons at most N - 1
 * records. A thread killed between allocating and publishing (worker.terminate()) gives
 * nothing back and counts nothing: at most one record's bytes per killed creator are
 * then neither published nor counted. No thread ever waits for another, which is what
 * this cost buys.
 *
 * Nothing read from the memory is trusted. Any thread can write any byte of it, so a
 * record may hold anything. The header's fixed fields are checked once, at attach, and
 * each thread keeps its own copy (`DirectoryBounds`); every slot's record is checked
 * before a byte of its name is read (`checkHead`), then its hash and UTF-8 are checked
 * when it is decoded. A record that fails is skipped by the listings and reported once
 * per attachment (a process warning and `usage().corruptRecords`); asking for a corrupt
 * record by name throws CorruptRegistryError. A record whose head is corrupt no longer
 * says whose it is, so a probe treats it as another name's and walks on: the next
 * get-or-create of its name makes a new record rather than trust the old one's offsets.
 * Every loop is bounded by the cached slot count, every string by MAX_NAME_BYTES /
 * MAX_SIGNATURE_BYTES, and a listing decodes at most the record area's size in head
 * bytes (legitimate heads never overlap) and reads at most one log entry (below) per
 * slot, so a scrape of any memory, however corrupt, is linear in the directory and the
 * capacity at worst, and linear in the records when the log is sound.
 *
 * Listings read the published-records log, not the slots. A hash table must be sparse to
 * stay fast, so the slot count follows the capacity (one per KiB: 65,536 slots at 64
 * MiB), and a listing that walked every slot paid for the capacity at each scrape,
 * however few records there were. So each creator also appends its record to an
 * append-only log (layout.ts: DIR_SLOTS words after the directory, and a length in
 * header word H_PUBLISHED):
 *   - after its publishing CAS wins, and only then, it reserves an entry with
 *     Atomics.add(length, 1) and stores 1 + the slot it won into that entry. Only winners
 *     append, and a slot is won once, so the log never needs more entries than there are
 *     slots: an index at or past the slot count can only come from a corrupt length and
 *     is not written.
 *   - a reader loads the length (sequentially consistent, bounded by the slot count it
 *     took at attach), then each entry below it. An entry of 0 is one whose creator has
 *     reserved it and not stored it yet: skipped this time, seen on a later listing. A
 *     non-zero entry was stored after the slot's CAS, so the slot's record is complete
 *     when the entry is seen; it is then checked exactly as a slot word was before.
 *   - the entry names the slot rather than the record so that everything keyed by slot
 *     (corrupt-record reports, RecordInfo.slot) stays as it was, and so that a forged
 *     entry cannot point at bytes no slot holds: the record offset still comes from the
 *     slot word. An entry naming a slot outside the directory, an empty slot, or a slot
 *     an earlier entry named is corrupt: reported once, skipped.
 *   - a creator killed by worker.terminate() between its CAS and its store would leave a
 *     published record out of every listing. V8 acts on a termination request at
 *     interrupt checks, which sit at function entries and loop back-edges of JS code;
 *     the CAS, the add and the store are calls to Atomics builtins in straight-line
 *     code with no JS call and no back-edge between them, so a terminated creator has
 *     done all three or none (the kill test in test/directory.test.ts compares the
 *     listing with a walk of every slot after killing creators mid-loop). Were it ever
 *     to happen, only listings would miss the record: lookups by name probe the slots
 *     and still find it.
 * A listing thus loads one word per record plus the length: an empty registry of 1 GiB
 * lists as fast as one of 64 KiB. Each attachment also keeps the records it decoded
 * (by slot, with the head words it checked): a later listing re-reads and re-checks
 * every head (a few loads) and decodes the strings again only when the head changed. A
 * name rewritten in place after it was decoded, head untouched, therefore goes unnoticed
 * by this attachment: the record stays listed under the name it was checked with, and
 * its data placement, which is what bounds every read of its cells, is re-checked every
 * time.
 * The series index (kinds/series-index.ts) goes further and keeps a cursor into the
 * log, so repeated scrapes read only the entries added since the last one.
 */
import { CorruptRegistryError, InvalidOptionsError, RegistryFullError } from './errors.js';
import {
  BLOCK,
  HEADER_BYTES,
  H_ABANDONED_BYTES,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_PUBLISHED,
  H_RECORDS_START,
  H_STRIPES,
  MAX_CAPACITY_BYTES,
  MAX_NAME_BYTES,
  MAX_SIGNATURE_BYTES,
  MAX_STRIPES,
  MIN_CAPACITY_BYTES,
  PAGE_BYTES,
  RECORD_HEAD_BYTES,
  R_DATA,
  R_DATA_BYTES,
  R_HASH,
  R_KIND,
  R_NAME_LEN,
  R_SIG_LEN,
  H_SLOT_COUNT,
  H_SLOT_TABLE,
  SLOT_ENTRY_BYTES,
  alignUp,
  directorySlotsFor,
  publishedLogOffset,
  slotTableOffset,
} from './layout.js';

export interface RecordInfo {
  /** The directory slot that points at the record. */
  readonly slot: number;
  readonly offset: number;
  readonly name: string;
  readonly kind: number;
  readonly signature: string;
  readonly dataOffset: number;
  readonly dataBytes: number;
  /** Set by findOrCreate when this call published the record (it did not exist before). */
  readonly created?: boolean;
}

export interface MemoryViews {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
}

/** The header's fixed fields, checked once and then read from here, never from memory. */
export interface DirectoryBounds {
  readonly capacity: number;
  readonly stripes: number;
  readonly dirOffset: number;
  readonly dirSlots: number;
  /** Byte offset of the published-records log (`dirSlots` u32 entries), derived from dirSlots. */
  readonly logOffset: number;
  readonly recordsStart: number;
  /** Byte offset of the stripe-slot table (slots.ts); it has `stripes` entries and a trailer. */
  readonly slotTable: number;
}

const encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 mark a corrupt record instead of decoding to U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

// FNV-1a, 32-bit. Only spreads names over slots; equality is decided on the bytes.
function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Bytes of a record's head block (head, name, signature), a multiple of BLOCK. */
export function headBlockBytes(nameBytes: number, sigBytes: number): number {
  return alignUp(RECORD_HEAD_BYTES + nameBytes + sigBytes, BLOCK);
}

/**
 * Checks the header's fixed fields against each other and the memory's size. Returns
 * them, or why they cannot be a registry's header. Called once per attachment.
 */
export function readBounds(i32: Int32Array, byteLength: number): DirectoryBounds | string {
  const capacity = i32[H_CAPACITY]! >>> 0;
  const stripes = i32[H_STRIPES]!;
  const dirOffset = i32[H_DIR_OFFSET]!;
  const dirSlots = i32[H_DIR_SLOTS]!;
  const recordsStart = i32[H_RECORDS_START]!;
  if (capacity !== byteLength) return `header says ${capacity} bytes but the memory has ${byteLength}`;
  if (capacity % PAGE_BYTES !== 0 || capacity < MIN_CAPACITY_BYTES || capacity > MAX_CAPACITY_BYTES) {
    return `capacity ${capacity} is not a whole number of 64 KiB pages from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}`;
  }
  if (stripes < 1 || stripes > MAX_STRIPES || (stripes & (stripes - 1)) !== 0) return `stripe count ${stripes} is not a power of two from 1 to ${MAX_STRIPES}`;
  // The directory's place and size follow from the capacity: anything else is corrupt.
  if (dirOffset !== HEADER_BYTES) return `directory offset ${dirOffset} is not ${HEADER_BYTES}`;
  const slots = directorySlotsFor(capacity);
  if (dirSlots !== slots) return `directory size ${dirSlots} is not the ${slots} slots of a ${capacity}-byte registry`;
  // So do the slot table's (after the directory and the published-records log) and size (one entry per stripe,
  // then one trailer entry): a bad one would make stripe claims write anywhere.
  const slotTable = i32[H_SLOT_TABLE]!;
  if (slotTable !== slotTableOffset(dirSlots) || i32[H_SLOT_COUNT] !== stripes) {
    return `stripe-slot table at ${slotTable} with ${i32[H_SLOT_COUNT]} entries is not the table of ${stripes} stripes after the directory`;
  }
  const tableEnd = alignUp(slotTable + (stripes + 1) * SLOT_ENTRY_BYTES, BLOCK);
  if (recordsStart < tableEnd || recordsStart % BLOCK !== 0 || recordsStart > capacity) {
    return `record area start ${recordsStart} is not a block boundary from ${tableEnd} to ${capacity}`;
  }
  return { capacity, stripes, dirOffset, dirSlots, logOffset: publishedLogOffset(dirSlots), recordsStart, slotTable };
}

// A record's head words, each read once and within bounds.
interface Head {
  readonly at: number;
  readonly nameLen: number;
  readonly sigLen: number;
  readonly dataOffset: number;
  readonly dataBytes: number;
  readonly kind: number;
  readonly hash: number;
}

export interface CreateRequest {
  readonly name: string;
  readonly kind: number;
  readonly signature: string;
  readonly dataBytes: number;
  /** Set by findOrCreate when this call published the record (it did not exist before). */
  readonly created?: boolean;
}

/**
 * A reader's place in the published-records log (see the essay), for readers that keep
 * what they decoded and want only what was published since: `Directory.newlyPublished`.
 */
export class PublishedCursor {
  /** Log entries below this were read (non-zero) or are in `holes`. */
  next = 0;
  /** Entries found reserved but not yet written (0): read again next time. */
  holes: number[] = [];
  /** Slots already handed out through this cursor: each is handed out once. */
  readonly slots = new Set<number>();
}

// What logEntry() returns for an entry not written yet, and for a corrupt one.
const PENDING = -1;
const BAD_ENTRY = -2;

// A record decoded by an earlier listing, and the head it was decoded from.
interface Decoded {
  readonly head: Head;
  readonly info: RecordInfo;
}

function sameHead(a: Head, b: Head): boolean {
  return a.at === b.at && a.nameLen === b.nameLen && a.sigLen === b.sigLen && a.dataOffset === b.dataOffset && a.dataBytes === b.dataBytes && a.kind === b.kind && a.hash === b.hash;
}

/** One attachment's view of the directory, with the header's fixed fields taken once. */
export class Directory {
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly capacity: number;
  private readonly dirIndex: number;
  private readonly slots: number;
  private readonly logIndex: number;
  private readonly recordsStart: number;
  // Records decoded by earlier listings, by slot (see the essay).
  private readonly decoded = new Map<number, Decoded>();
  // Slots found corrupt (and published-log entries, as -1 - entry) by this attachment: each is reported once.
  private readonly corrupt = new Map<number, string>();
  // Found by the current call and not reported yet (see flushReports).
  private pending: string[] = [];

  constructor(views: MemoryViews, bounds: DirectoryBounds) {
    this.i32 = views.i32;
    this.u8 = views.u8;
    this.capacity = bounds.capacity;
    this.dirIndex = bounds.dirOffset >>> 2;
    this.slots = bounds.dirSlots;
    this.logIndex = bounds.logOffset >>> 2;
    this.recordsStart = bounds.recordsStart;
  }

  /**
   * The head of record `p` (a slot's word) if its name and signature lengths and its data
   * placement are all within the layout's bounds, else why not. Reads each head word
   * once: a thread rewriting the head meanwhile cannot slip a value past the check.
   */
  private checkHead(p: number): Head | string {
    const at = p >>> 0;
    if (at % BLOCK !== 0 || at < this.recordsStart || at > this.capacity - RECORD_HEAD_BYTES) return `record offset ${at} is outside the record area or unaligned`;
    const i = at >>> 2;
    const nameLen = this.i32[i + R_NAME_LEN / 4]!;
    const sigLen = this.i32[i + R_SIG_LEN / 4]!;
    if (nameLen < 1 || nameLen > MAX_NAME_BYTES) return `name length ${nameLen} is not 1..${MAX_NAME_BYTES}`;
    if (sigLen < 1 || sigLen > MAX_SIGNATURE_BYTES) return `signature length ${sigLen} is not 1..${MAX_SIGNATURE_BYTES}`;
    // The data starts exactly where its creator put it: right after the head block.
    const dataOffset = this.i32[i + R_DATA / 4]! >>> 0;
    if (dataOffset !== at + headBlockBytes(nameLen, sigLen)) return `data offset ${dataOffset} does not follow the record's head`;
    const dataBytes = this.i32[i + R_DATA_BYTES / 4]!;
    if (dataBytes < 0 || dataOffset + alignUp(dataBytes, BLOCK) > this.capacity) return `data of ${dataBytes} bytes at ${dataOffset} does not fit in the memory`;
    return { at, nameLen, sigLen, dataOffset, dataBytes, kind: this.i32[i + R_KIND / 4]!, hash: this.i32[i + R_HASH / 4]! };
  }

  /** Decodes a record whose head passed checkHead; why not when its bytes are corrupt. */
  private decode(slot: number, h: Head): RecordInfo | string {
    const nameAt = h.at + RECORD_HEAD_BYTES;
    // TextDecoder refuses views of a SharedArrayBuffer: copy the bytes out first (slice).
    const nameBytes = this.u8.slice(nameAt, nameAt + h.nameLen);
    if (hashBytes(nameBytes) !== h.hash) return 'name does not match its hash';
    let name: string;
    let signature: string;
    try {
      name = decoder.decode(nameBytes);
      signature = decoder.decode(this.u8.slice(nameAt + h.nameLen, nameAt + h.nameLen + h.sigLen));
    } catch {
      return 'name or signature is not UTF-8';
    }
    return { slot, offset: h.at, name, kind: h.kind, signature, dataOffset: h.dataOffset, dataBytes: h.dataBytes };
  }

  /**
   * Notes a corrupt slot the first time this attachment meets it; flushReports() then
   * reports every slot found by one call in one process warning. A scrape every few
   * seconds of a memory with thousands of corrupt records writes one line, once.
   */
  reportCorrupt(slot: number, offset: number, reason: string): void {
    if (this.corrupt.has(slot)) return;
    this.corrupt.set(slot, reason);
    this.pending.push(`slot ${slot} at offset ${offset >>> 0}: ${reason}`);
  }

  /** Emits one warning for the corrupt slots found since the last flush, if any. */
  flushReports(): void {
    const found = this.pending;
    if (found.length === 0) return;
    this.pending = [];
    const shown = found.slice(0, 3).join('; ');
    const more = found.length > 3 ? `; and ${found.length - 3} more` : '';
    process.emitWarning(
      `atomic-stats: skipped ${found.length} corrupt registry record${found.length === 1 ? '' : 's'} (shared memory written outside the layout's bounds): ${shown}${more}. Each is reported once; usage().corruptRecords counts them.`,
      { type: 'AtomicStatsWarning', code: 'ERR_CORRUPT_REGISTRY' },
    );
  }

  // Notes a corrupt published-log entry once (keyed apart from the slots, as -1 - entry).
  private reportEntry(entry: number, reason: string): void {
    const key = -1 - entry;
    if (this.corrupt.has(key)) return;
    this.corrupt.set(key, reason);
    this.pending.push(`published-records log entry ${entry}: ${reason}`);
  }

  /** Entries of the published-records log to read: its length, bounded by the slot count. */
  private publishedLength(): number {
    return Math.min(Atomics.load(this.i32, H_PUBLISHED) >>> 0, this.slots);
  }

  // The slot that log entry `entry` names, PENDING when it is not written yet, or
  // BAD_ENTRY (reported) when it names no slot of the directory.
  private logEntry(entry: number): number {
    const v = Atomics.load(this.i32, this.logIndex + entry);
    if (v === 0) return PENDING;
    if (v < 1 || v > this.slots) {
      this.reportEntry(entry, `names slot ${v - 1}, outside the directory's ${this.slots}`);
      return BAD_ENTRY;
    }
    return v - 1;
  }

  /**
   * The slots published since `cursor` last looked (each handed out once per cursor), in
   * log order; entries not written yet are looked at again next time. Costs one load per
   * new entry and per pending one: nothing for what the cursor has already seen.
   */
  newlyPublished(cursor: PublishedCursor): number[] {
    const out: number[] = [];
    const take = (entry: number): boolean => {
      const slot = this.logEntry(entry);
      if (slot === PENDING) return false;
      if (slot >= 0 && !cursor.slots.has(slot)) {
        cursor.slots.add(slot);
        out.push(slot);
      }
      return true;
    };
    if (cursor.holes.length > 0) cursor.holes = cursor.holes.filter((entry) => !take(entry));
    const n = this.publishedLength();
    for (let e = cursor.next; e < n; e++) if (!take(e)) cursor.holes.push(e);
    if (n > cursor.next) cursor.next = n;
    this.flushReports();
    return out;
  }

  // Every slot the log names, once each, in log order (a second entry for a slot is
  // reported and skipped); each with its word, non-zero (a logged empty slot is reported).
  private publishedSlots(visit: (slot: number, p: number) => void): void {
    const n = this.publishedLength();
    const named = new Set<number>();
    for (let e = 0; e < n; e++) {
      const slot = this.logEntry(e);
      if (slot < 0) continue;
      if (named.has(slot)) {
        this.reportEntry(e, `names slot ${slot}, which an earlier entry names`);
        continue;
      }
      named.add(slot);
      const p = Atomics.load(this.i32, this.dirIndex + slot);
      if (p === 0) this.reportCorrupt(slot, 0, 'the published-records log names it but the slot is empty');
      else visit(slot, p);
    }
  }

  /** Directory slots (and published-log entries) this attachment has found corrupt so far. */
  corruptRecords(): number {
    return this.corrupt.size;
  }

  /** @internal Why each of those slots was found corrupt (for tests and debugging). */
  corruptSlots(): ReadonlyMap<number, string> {
    return this.corrupt;
  }

  /**
   * How many published records pass the head checks, less those this attachment has
   * already found corrupt by decoding them (decodes no string itself).
   */
  count(): number {
    let n = 0;
    this.publishedSlots((k, p) => {
      const h = this.checkHead(p);
      if (typeof h === 'string') this.reportCorrupt(k, p, h);
      else if (!this.corrupt.has(k)) n++;
    });
    this.flushReports();
    return n;
  }

  /** Bytes handed out by the bump allocator so far (header and directory included). */
  usedBytes(): number {
    const top = Atomics.load(this.i32, H_ALLOC_TOP) >>> 0;
    // A corrupt bump pointer is reported as the nearest possible value; allocation
    // refuses to use it (allocate()).
    return Math.min(Math.max(top, this.recordsStart), this.capacity);
  }

  /** Bytes allocated for records that were never published (see the essay above). */
  abandonedBytes(): number {
    return Atomics.load(this.i32, H_ABANDONED_BYTES) >>> 0;
  }

  /**
   * Every published record that passes the checks, in directory order; the others are
   * reported and skipped. A slot pointing at a record another slot holds, and records
   * that would make the listing decode more head bytes than the record area holds
   * (legitimate heads never overlap), are corrupt too.
   */
  list(): RecordInfo[] {
    const out: RecordInfo[] = [];
    const offsets = new Set<number>();
    let budget = this.capacity - this.recordsStart;
    this.publishedSlots((k, p) => {
      const h = offsets.has(p) ? 'another slot points at the same record' : this.checkHead(p);
      if (typeof h === 'string') {
        this.reportCorrupt(k, p, h);
        return;
      }
      offsets.add(p);
      const head = h.dataOffset - h.at;
      if (head > budget) {
        this.reportCorrupt(k, p, 'records overlap');
        return;
      }
      budget -= head;
      // The strings were decoded (hash and UTF-8 checked) from this very head before:
      // reuse them. Any change of a head word decodes again.
      const known = this.decoded.get(k);
      if (known !== undefined && sameHead(known.head, h)) {
        out.push(known.info);
        return;
      }
      const r = this.decode(k, h);
      if (typeof r === 'string') {
        this.decoded.delete(k);
        this.reportCorrupt(k, p, r);
      } else {
        this.decoded.set(k, { head: h, info: r });
        out.push(r);
      }
    });
    // Not flushed here: the caller checks the signatures too, then flushes once.
    return out;
  }

  // Whether the record whose head is `h` carries this name (bytes within bounds: the
  // head check put the name before the record's data).
  private sameName(h: Head, hash: number, name: Uint8Array): boolean {
    if (h.hash !== hash || h.nameLen !== name.length) return false;
    const at = h.at + RECORD_HEAD_BYTES;
    for (let k = 0; k < name.length; k++) if (this.u8[at + k] !== name[k]) return false;
    return true;
  }

  // The slot's record if it is `name`'s (CorruptRegistryError if that record is corrupt),
  // undefined if it is another name's; reports a corrupt head and treats it as another name.
  private match(slot: number, p: number, hash: number, nameBytes: Uint8Array, name: string): RecordInfo | undefined {
    const h = this.checkHead(p);
    if (typeof h === 'string') {
      this.reportCorrupt(slot, p, h);
      return undefined;
    }
    if (!this.sameName(h, hash, nameBytes)) return undefined;
    const r = this.decode(slot, h);
    if (typeof r === 'string') {
      this.reportCorrupt(slot, p, r);
      throw new CorruptRegistryError(name, r);
    }
    return r;
  }

  /** Bump-allocates `bytes` (a multiple of BLOCK) or throws, moving nothing. */
  private allocate(bytes: number, what: string): number {
    for (;;) {
      const top = Atomics.load(this.i32, H_ALLOC_TOP) >>> 0;
      if (top < this.recordsStart || top > this.capacity || top % BLOCK !== 0) {
        throw new CorruptRegistryError(undefined, `the allocation pointer ${top} is outside the record area`);
      }
      if (top + bytes > this.capacity) {
        throw new RegistryFullError(
          `no room for ${what} (${bytes} bytes needed, ${this.capacity - top} of ${this.capacity} left); create the registry with a larger capacityBytes`,
        );
      }
      if (Atomics.compareExchange(this.i32, H_ALLOC_TOP, top | 0, (top + bytes) | 0) === (top | 0)) return top;
    }
  }

  /**
   * Bump-allocates `bytes` (a multiple of BLOCK) for a layer above the directory that
   * manages its own blocks (the labelled series of the metric kinds, kinds/series-table.ts):
   * fresh zero memory, never published here, never listed, never given back; that layer
   * reuses it itself. Throws RegistryFullError (or CorruptRegistryError for a corrupt
   * allocation pointer), moving nothing.
   */
  allocateBlock(bytes: number, what: string): number {
    return this.allocate(bytes, what);
  }

  /** Whether `bytes` at `offset` (a value read from the memory) lie within the record area on a block boundary. */
  blockFits(offset: number, bytes: number): boolean {
    return offset % BLOCK === 0 && offset >= this.recordsStart && offset <= this.capacity - bytes;
  }

  // Gives an unpublished record's bytes back (see the essay): zero what was written, then
  // move the bump pointer back if nothing was allocated after the record.
  private release(record: number, headBytes: number, bytes: number): void {
    this.u8.fill(0, record, record + headBytes);
    const end = (record + bytes) | 0;
    if (Atomics.compareExchange(this.i32, H_ALLOC_TOP, end, record | 0) !== end) Atomics.add(this.i32, H_ABANDONED_BYTES, bytes);
  }

  private full(): RegistryFullError {
    return new RegistryFullError(`the directory's ${this.slots} entries are all used; create the registry with a larger capacityBytes`);
  }

  /** The record named `name`, or undefined: findOrCreate's probe without the create. */
  find(name: string): RecordInfo | undefined {
    try {
      const nameBytes = utf8(name);
      const hash = hashBytes(nameBytes);
      const mask = this.slots - 1;
      for (let probe = 0, slot = hash & mask; probe < this.slots; probe++, slot = (slot + 1) & mask) {
        const p = Atomics.load(this.i32, this.dirIndex + slot);
        if (p === 0) return undefined;
        const found = this.match(slot, p, hash, nameBytes, name);
        if (found !== undefined) return found;
      }
      return undefined;
    } finally {
      this.flushReports();
    }
  }

  /**
   * The record slot `slot` points at, checked and decoded (undefined, and reported, when
   * it is corrupt; undefined when the slot is still free), and its kind code read from the
   * checked head before anything is decoded, so a caller can skip other kinds cheaply.
   */
  recordAtSlot(slot: number, kind?: number): RecordInfo | undefined {
    const p = Atomics.load(this.i32, this.dirIndex + slot);
    if (p === 0) return undefined;
    const h = this.checkHead(p);
    if (typeof h === 'string') {
      this.reportCorrupt(slot, p, h);
      this.flushReports();
      return undefined;
    }
    if (kind !== undefined && h.kind !== kind) return undefined;
    const r = this.decode(slot, h);
    if (typeof r === 'string') {
      this.reportCorrupt(slot, p, r);
      this.flushReports();
      return undefined;
    }
    return r;
  }

  /**
   * Returns the record for `req.name`: the existing one (whatever its signature: the caller
   * compares) or a new one holding `req`.
   */
  findOrCreate(req: CreateRequest): RecordInfo {
    try {
      return this.getOrCreate(req);
    } finally {
      this.flushReports();
    }
  }

  private getOrCreate(req: CreateRequest): RecordInfo {
    const nameBytes = utf8(req.name);
    const hash = hashBytes(nameBytes);
    const mask = this.slots - 1;

    let probe = 0;
    let slot = hash & mask;
    for (; probe < this.slots; probe++, slot = (slot + 1) & mask) {
      const p = Atomics.load(this.i32, this.dirIndex + slot);
      if (p === 0) break;
      const found = this.match(slot, p, hash, nameBytes, req.name);
      if (found !== undefined) return found;
    }
    if (probe === this.slots) throw this.full();

    const sigBytes = utf8(req.signature);
    if (sigBytes.length > MAX_SIGNATURE_BYTES) {
      throw new InvalidOptionsError('descriptor', `describing "${req.name}" takes ${sigBytes.length} bytes of JSON, more than the ${MAX_SIGNATURE_BYTES} a record holds`);
    }
    const headBytes = headBlockBytes(nameBytes.length, sigBytes.length);
    const bytes = headBytes + alignUp(req.dataBytes, BLOCK);
    const record = this.allocate(bytes, `"${req.name}"`);
    const i = record >>> 2;
    this.i32[i + R_HASH / 4] = hash;
    this.i32[i + R_KIND / 4] = req.kind;
    this.i32[i + R_NAME_LEN / 4] = nameBytes.length;
    this.i32[i + R_SIG_LEN / 4] = sigBytes.length;
    this.i32[i + R_DATA / 4] = record + headBytes;
    this.i32[i + R_DATA_BYTES / 4] = req.dataBytes;
    this.u8.set(nameBytes, record + RECORD_HEAD_BYTES);
    this.u8.set(sigBytes, record + RECORD_HEAD_BYTES + nameBytes.length);

    for (; probe < this.slots; probe++, slot = (slot + 1) & mask) {
      const prev = Atomics.compareExchange(this.i32, this.dirIndex + slot, 0, record);
      if (prev === 0) {
        // Published: now log it (see the essay). Straight-line code from the CAS to the
        // store, no call in between, so a terminated thread does both or neither. An
        // index past the log can only come from a corrupt length (one entry per slot).
        const entry = Atomics.add(this.i32, H_PUBLISHED, 1) >>> 0;
        if (entry < this.slots) Atomics.store(this.i32, this.logIndex + entry, slot + 1);
        return { slot, offset: record, name: req.name, kind: req.kind, signature: req.signature, dataOffset: record + headBytes, dataBytes: req.dataBytes, created: true };
      }
      let found: RecordInfo | undefined;
      try {
        found = this.match(slot, prev, hash, nameBytes, req.name);
      } catch (e) {
        this.release(record, headBytes, bytes);
        throw e;
      }
      if (found !== undefined) {
        this.release(record, headBytes, bytes);
        return found;
      }
    }
    this.release(record, headBytes, bytes);
    throw this.full();
  }
}
