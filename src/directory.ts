/*
 * The lock-free directory: name -> record, shared by every thread of a registry.
 *
 * An open-addressing hash table of DIR_SLOTS i32 words (layout.ts), each free (0, or
 * announced: below) or the offset of a record. Slots go from free to a record exactly
 * once and are never cleared, so a probe sequence only ever grows, and a name, once
 * present, stays at the first slot of its probe sequence that it won.
 *
 * get-or-create:
 *   1. Probe; a slot whose record has the same name (length and bytes compared, not just
 *      the hash) is the answer. The first free slot ends the search.
 *   2. Otherwise build a complete record in freshly bump-allocated memory (plain
 *      writes), append the free slot to the published-records log (below), then
 *      publish the record with a compareExchange on the slot's word. The CAS is
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
 * however few records there were. So every slot is appended to an append-only log
 * (layout.ts: DIR_SLOTS words after the directory, and a length in header word
 * H_PUBLISHED) before a record is published in it, and listings read the log.
 *
 * Why before. A creator can stop at any instruction. worker.terminate() asks V8 to throw
 * an uncatchable termination at the thread's next interrupt check, and V8 checks on the
 * way into builtins, not only at function entries and loop back-edges: on Node 20, 22
 * and 24, in the interpreter, Sparkplug and TurboFan alike (and Maglev, on 24), a worker
 * looping `Atomics.add(a, 0, 1); Atomics.add(b, 0, 1)` and terminated at a random moment
 * stops between the two calls in a third to a half of the runs. It stops between a plain
 * write and an Atomics call after it too, never between an Atomics call and a plain
 * write after it. No two Atomics calls are atomic with respect to termination, then.
 * An earlier version published first and logged after (Atomics.add on the length,
 * Atomics.store of the entry), trusting that they were; a creator terminated in between
 * lost its record from every listing for good: found by name and counted into, never
 * exported. So wherever a creator stops, what it has written must be enough on its
 * own: everything a listing needs to find the record is in the log before the
 * publishing CAS, and what follows that CAS (moving the log's length) any thread does.
 *
 * A slot's word goes from 0 to a record once, by CAS, sometimes by way of ~e:
 *   - 0: free.
 *   - ~e, negative: announced, and still free. Log entry e names the slot; the thread
 *     that wrote it has not published (it stopped, or is slow), and another thread
 *     finished its log steps for it (below). Any creator whose probe reaches the slot
 *     may publish there, and a lookup stops there as at 0, since a name is always
 *     published at the first free slot of its probe sequence.
 *   - a record's offset (positive, 128-aligned): published.
 * A creator publishes in a free slot only once an entry names it: its own, written just
 * before, or the entry an announcement names. So every slot holding a record is named by
 * a log entry, and every entry names a different slot: the log needs one entry per slot
 * at most, the size it has, and cannot fill while a slot is free. Racing creators cost
 * no entries: they append a slot once between them (below), the loser of the publishing
 * CAS takes the winner's record if it has the same name, and probes on otherwise.
 *
 * Appending exactly once, with no step that can leave the log stuck. Every entry below
 * the length is written and its slot is not 0; the entry at the length may be written
 * too, and no other. To publish `record` in slot k, a creator loops:
 *   1. load the length L;
 *   2. load slot k: a record ends the attempt (the same name: take it; else probe on);
 *      ~e, checked (entry e names k), is free: compareExchange(slot k, ~e, record);
 *   3. slot k is 0: compareExchange(entry L, 0, k + 1). If that wins, entry L names k:
 *      compareExchange(slot k, 0, record), then compareExchange(length, L, L + 1);
 *   4. if it lost, entry L is another appender's: finish its steps for it,
 *      compareExchange(its slot, 0, ~L) then compareExchange(length, L, L + 1); loop.
 * Anyone does step 4 for whoever wrote entry L, so an appender that stops after its
 * entry's CAS delays nobody. The helper announces the slot rather than publish in it (it
 * holds no record of that name: its own is for slot k), which is what keeps the rule
 * that a slot's entry is written before the length passes it, and the slot not 0. No
 * slot is appended twice: step 1 loads the length before step 2 loads the slot, so a
 * creator that loads a length past the entry naming k finds k no longer 0, and one that
 * loads that entry's own index loses the CAS at step 3 and helps instead of appending.
 * And no entry is ever reserved and written later, as Atomics.add then store would: the
 * CAS that claims an entry writes it. Each pass that does not return sees the length
 * move past a written entry or the slot take its next state, so a sound memory settles
 * within slots + 2 passes.
 *
 * Where a creator stops, then, and what listings show:
 *   - before its entry's CAS: nothing of it is in the log or the directory;
 *   - after it, before publishing: the entry at the length names a free slot, which
 *     readers skip; the next appender announces the slot and moves the length on, and
 *     the next creator whose probe reaches the slot publishes there (readers skip an
 *     announced slot without a report, and look at it again each time);
 *   - after the publishing CAS, before moving the length: the entry at the length names
 *     its record, and readers read that entry too: listed;
 *   - after moving the length: done.
 * A helper that stops leaves one of the same states. A record in a slot is thus always
 * named by an entry below the length or at it, wherever its creator stopped. Its bytes
 * are another matter: a creator stopped between allocating and publishing leaves one
 * record's bytes neither published nor counted (above).
 *
 * Reading. A reader loads the length (bounded by the slot count it took at attach), then
 * each entry below it and the entry at it. An entry names a slot, and the slot's word
 * says what to do:
 *   - a record: listed, after the checks every record gets;
 *   - the announcement ~e of this very entry: not published yet; skipped, no report;
 *   - 0, for the entry at the length: its appender is between its entry's CAS and its
 *     publishing one; skipped.
 * Everything else is corrupt, reported once and skipped: an entry naming no slot of the
 * directory, an entry below the length naming an empty slot, a second entry for a slot,
 * a negative slot word whose entry does not name the slot back. An entry of 0 below the
 * length can only come from a corrupt length, and is skipped as not written yet. The
 * entry names the slot rather than the record so that everything keyed by slot
 * (corrupt-record reports, RecordInfo.slot) stays as it was, and so that a forged entry
 * cannot point at bytes no slot holds: the record offset still comes from the slot word.
 * A creator or a lookup that meets a negative slot word checks it the same way (one
 * load: does its entry name this slot?) and walks past a corrupt one as past a corrupt
 * record. A corrupt length never makes a creator write outside the log: at or past the
 * slot count, a creator appends nothing and publishes unlogged (found by name, missing
 * from listings), as before there was a log; one below the written entries is walked
 * forward by the next creator, one helped entry per pass.
 *
 * A listing thus loads two words per record (its entry and its slot) plus the length
 * and the entry at it: an empty registry of 1 GiB lists as fast as one of 64 KiB. A
 * create loads the length and its slot, then writes its entry, its slot and the length
 * with one CAS each, where the publish-then-log order took a CAS, an add and a store.
 * Each attachment also keeps the records it decoded (by slot, with the head words it
 * checked): a later listing re-reads and re-checks every head (a few loads) and decodes
 * the strings again only when the head changed. A name rewritten in place after it was
 * decoded, head untouched, therefore goes unnoticed by this attachment: the record stays
 * listed under the name it was checked with, and its data placement, which is what
 * bounds every read of its cells, is re-checked every time.
 * The series index (kinds/series-index.ts) goes further and keeps a cursor into the
 * log, so repeated scrapes read only the entries added since the last one, and those
 * whose slot was announced but held no record yet.
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
  /** Log entries below this were settled (handed out, or corrupt) or are in `holes`. */
  next = 0;
  /** Entries whose slot held no record yet (announced), or not written (0): read again next time. */
  holes: number[] = [];
  /** Slots already handed out through this cursor: each is handed out once. */
  readonly slots = new Set<number>();
}

// What readEntry() returns instead of a slot: an entry of 0 (past the log's end), one
// whose slot is announced and holds no record yet, and a corrupt one.
const UNWRITTEN = -1;
const PENDING = -2;
const SKIP = -3;

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
  // True while listQuietly lists: nothing is reported.
  private quiet = false;
  // The record offset readEntry() found in the slot it returned.
  private entryRecord = 0;

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
    if (this.quiet || this.corrupt.has(slot)) return;
    this.corrupt.set(slot, reason);
    this.pending.push(`slot ${slot}${offset > 0 ? ` at offset ${offset}` : ''}: ${reason}`);
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

  /**
   * The log's length, bounded by the slot count: every entry below it is written and its
   * slot is not 0. The entry at the length may be written too, its appender being
   * between its steps: readers look at it as well (`readEntry(length, true)`).
   */
  private logLength(): number {
    return Math.min(Atomics.load(this.i32, H_PUBLISHED) >>> 0, this.slots);
  }

  // Whether `w`, a negative word of slot `slot`, is an announcement: it names a log entry
  // that names the slot back. Anything else negative is corrupt.
  private announcedBy(slot: number, w: number): boolean {
    const entry = ~w;
    return entry < this.slots && Atomics.load(this.i32, this.logIndex + entry) === slot + 1;
  }

  private reportAnnouncement(slot: number, w: number): void {
    this.reportCorrupt(slot, 0, `holds ${w}, neither a record's offset nor the announcement of a log entry naming the slot`);
  }

  /**
   * Log entry `entry`: the slot it names, whose record offset is left in `entryRecord`, or
   * UNWRITTEN, PENDING (announced, no record yet: look again later) or SKIP (corrupt,
   * reported). `tail` is set for the entry at the log's length, whose slot may still be 0
   * (its appender has not published, and nobody has announced it yet).
   */
  private readEntry(entry: number, tail: boolean): number {
    const v = Atomics.load(this.i32, this.logIndex + entry);
    if (v === 0) return UNWRITTEN;
    if (v < 1 || v > this.slots) {
      this.reportEntry(entry, `names slot ${v - 1}, outside the directory's ${this.slots}`);
      return SKIP;
    }
    const slot = v - 1;
    const p = Atomics.load(this.i32, this.dirIndex + slot);
    if (p > 0) {
      this.entryRecord = p;
      return slot;
    }
    if (p === 0) {
      if (tail) return PENDING;
      this.reportEntry(entry, `names slot ${slot}, but the slot is empty`);
      return SKIP;
    }
    if (~p === entry) return PENDING;
    if (this.announcedBy(slot, p)) this.reportEntry(entry, `names slot ${slot}, which entry ${~p} announces`);
    else this.reportAnnouncement(slot, p);
    return SKIP;
  }

  /**
   * The slots published since `cursor` last looked (each handed out once per cursor), in
   * log order; entries whose slot holds no record yet are looked at again next time.
   * Costs two loads (the entry, its slot) per new entry and per pending one: nothing for
   * what the cursor has already seen.
   */
  newlyPublished(cursor: PublishedCursor): number[] {
    const out: number[] = [];
    // True when the entry is settled for good, false when it must be read again.
    const take = (entry: number, tail: boolean): boolean => {
      const slot = this.readEntry(entry, tail);
      if (slot === UNWRITTEN || slot === PENDING) return false;
      if (slot >= 0 && !cursor.slots.has(slot)) {
        cursor.slots.add(slot);
        out.push(slot);
      }
      return true;
    };
    if (cursor.holes.length > 0) cursor.holes = cursor.holes.filter((entry) => !take(entry, false));
    const n = this.logLength();
    for (let e = cursor.next; e < n; e++) if (!take(e, false)) cursor.holes.push(e);
    if (n > cursor.next) cursor.next = n;
    // The entry at the length is read again from `next` next time (the cursor's set keeps
    // it from being handed out twice), so it is never a hole.
    if (n < this.slots && cursor.next === n) take(n, true);
    this.flushReports();
    return out;
  }

  // Every slot the log names that holds a record, once each, in log order (a second entry
  // for a slot is reported and skipped), with the record's offset.
  private publishedSlots(visit: (slot: number, p: number) => void): void {
    const { i32, logIndex, dirIndex, slots } = this;
    const n = this.logLength();
    const end = n < slots ? n + 1 : n;
    const named = new Set<number>();
    for (let e = 0; e < end; e++) {
      // The common case, an entry naming a slot that holds a record, inline (two loads);
      // readEntry reads the entry again and sorts out every other case.
      const v = Atomics.load(i32, logIndex + e);
      let slot = v - 1;
      let p = v >= 1 && v <= slots ? Atomics.load(i32, dirIndex + slot) : 0;
      if (p <= 0) {
        slot = this.readEntry(e, e === n);
        if (slot < 0) continue;
        p = this.entryRecord;
      }
      if (named.has(slot)) {
        this.reportEntry(e, `names slot ${slot}, which an earlier entry names`);
        continue;
      }
      named.add(slot);
      visit(slot, p);
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
  /**
   * list() for the package's own housekeeping (a worker's exit, registry-core.ts): reports
   * nothing, so that corrupt records are still reported once, by the first listing the
   * application asks for.
   */
  listQuietly(): RecordInfo[] {
    this.quiet = true;
    try {
      return this.list();
    } finally {
      this.quiet = false;
    }
  }

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

  /**
   * Publishes `record` in slot `slot` if the slot is free, logging the slot first (see
   * the essay), and finishes the steps of any appender it finds stopped between them.
   * Returns 0 when it published; otherwise the offset of the record the slot holds, or
   * -1 when the slot must be walked past (a corrupt announcement, reported).
   */
  private publish(slot: number, record: number): number {
    const i32 = this.i32;
    const at = this.dirIndex + slot;
    // A pass that does not return has seen the length move past a written entry or the
    // slot take its next state (0 -> ~e -> record), so a sound memory settles within
    // slots + 2 passes.
    for (let pass = 0; pass < this.slots + 3; pass++) {
      // Length, then slot, then entry: this order makes the append exactly-once.
      const n = Atomics.load(i32, H_PUBLISHED) >>> 0;
      const w = Atomics.load(i32, at);
      if (w > 0) return w;
      if (w < 0) {
        if (!this.announcedBy(slot, w)) {
          this.reportAnnouncement(slot, w);
          return -1;
        }
        if (Atomics.compareExchange(i32, at, w, record) === w) return 0;
        continue;
      }
      if (n >= this.slots) {
        // The log takes no entry, which a sound log always does while a slot is free: its
        // length is corrupt. Publish unlogged: found by name, missing from listings.
        if (Atomics.compareExchange(i32, at, 0, record) === 0) return 0;
        continue;
      }
      const v = Atomics.compareExchange(i32, this.logIndex + n, 0, slot + 1);
      if (v === 0) {
        // Entry n names the slot: publish, then move the length past the entry. A helper
        // may announce the slot (~n) first; the next pass publishes over that.
        const published = Atomics.compareExchange(i32, at, 0, record) === 0;
        Atomics.compareExchange(i32, H_PUBLISHED, n, n + 1);
        if (published) return 0;
        continue;
      }
      // Entry n is another appender's, stopped or not yet done: announce its slot if still
      // free, then move the length past it. Either CAS failing means another did it.
      if (v >= 1 && v <= this.slots) Atomics.compareExchange(i32, this.dirIndex + v - 1, 0, ~n);
      Atomics.compareExchange(i32, H_PUBLISHED, n, n + 1);
    }
    return -1;
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
        if (p < 0) {
          // An announced slot is free: the name would have been published here or before.
          if (this.announcedBy(slot, p)) return undefined;
          this.reportAnnouncement(slot, p);
          continue;
        }
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
   * it is corrupt; undefined when the slot holds no record), and its kind code read from the
   * checked head before anything is decoded, so a caller can skip other kinds cheaply.
   */
  recordAtSlot(slot: number, kind?: number): RecordInfo | undefined {
    const p = Atomics.load(this.i32, this.dirIndex + slot);
    if (p <= 0) return undefined;
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
      if (p < 0) {
        if (this.announcedBy(slot, p)) break;
        this.reportAnnouncement(slot, p);
        continue;
      }
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
      const p = this.publish(slot, record);
      if (p === 0) {
        return { slot, offset: record, name: req.name, kind: req.kind, signature: req.signature, dataOffset: record + headBytes, dataBytes: req.dataBytes, created: true };
      }
      // Corrupt, or changed under us more often than a sound memory can: walk on.
      if (p < 0) continue;
      let found: RecordInfo | undefined;
      try {
        found = this.match(slot, p, hash, nameBytes, req.name);
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
