/*
 * Layout of a registry's shared memory. Every offset is in bytes from the start of the
 * one shared WebAssembly.Memory; both backends and every thread read the same numbers.
 *
 *   0      header (64 bytes): magic, layout version, capacity, stripe count, the count of
 *          attachments made, the bump pointer, where the directory is and how many slots
 *          it has, where the stripe-slot table is and how many entries it has, where the
 *          records start, the bytes lost to creation races, and the length of the
 *          published-records log
 *   64     directory: DIR_SLOTS i32 words, each 0 (free), ~e (announced: free, and named
 *          by log entry e) or the offset of a record
 *   ...    published-records log (128-byte aligned): DIR_SLOTS u32 words, entry i is 0
 *          (not written yet) or 1 + the i-th directory slot logged, which is before a
 *          record is published in it; header word 12 is its length: every entry below
 *          it is written, and the entry at it may be (directory.ts explains the
 *          protocol, and why listings read this log rather than the directory)
 *   ...    stripe-slot table (128-byte aligned): one 16-byte entry per owned stripe, saying
 *          which thread holds it (src/slots.ts), then a 16-byte trailer whose first word
 *          counts the attachments that found every stripe held
 *   ...    records, bump-allocated upward from H_RECORDS_START, every one 128-byte
 *          aligned, never freed once published
 *
 * Which header words are trusted. Capacity, stripes, the directory's place and size, the
 * slot table's place and size and the start of the records are written once, before the
 * handle exists; `attach` checks them against each other and the memory's size, and every
 * thread keeps its own copy from then on (directory.ts), so a thread that later scribbles
 * on the header cannot move another thread's directory or record area. The bump pointer
 * and the counters in the header change at run time and are bounds-checked at every use.
 *
 * The memory is created with initial == maximum pages and never grown: every thread
 * holds views of one SharedArrayBuffer, and growing would leave their views stale.
 * Fresh memory is zero and the bump pointer never hands out the same bytes twice, so a
 * new record's cells start at 0 with no explicit clearing.
 */

export const MAGIC = 0x53544131; // "1ATS" little-endian: atomic-stats
// 2: the stripe-slot table (words 8, 9: owned stripes are handed back when their thread
// ends), header words 10 (records start) and 11 (abandoned bytes); records checked on read.
// 3: the published-records log between the directory and the stripe-slot table, and its
// length in header word 12, so listings cost O(records) rather than O(directory slots);
// a slot is logged before a record is published in it (~entry in a slot: announced).
// 4: a labelled metric's series live in its own series table (kinds/series-table.ts),
// in nodes that are freed and reused, instead of one directory record per series.
// 5: a labelled family's claim tickets (kinds/claims.ts) between its free lists and its
// buckets, and the count word's in-flight field a bit per ticket.
// 6: contention-adaptive series (kinds/adaptive-cells.ts): an inflation word after a
// series' base cells, a family's free list of stripe blocks (labelled: between its claim
// tickets and its buckets; unlabelled: after its count word), header words 13 and 14.
// 7: gauges and summaries are contention-adaptive too: a gauge series is its f64 cell and
// the inflation word (16 bytes, was 8); a summary series' count and sum are adaptive
// (kinds/summary.ts): its inflation word at +16, its slices from +24, each slice's second
// word its reset generation.
export const LAYOUT_VERSION = 7;
export const PAGE_BYTES = 65536;

/** Header words, as indexes into an Int32Array of the memory. */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_CAPACITY = 2;
export const H_STRIPES = 3;
/** Attachments made so far (create + every attach), in every thread; only ever grows. */
export const H_NEXT_SLOT = 4;
export const H_ALLOC_TOP = 5;
export const H_DIR_OFFSET = 6;
export const H_DIR_SLOTS = 7;
/** Byte offset of the stripe-slot table, and its number of entries (== stripes). */
export const H_SLOT_TABLE = 8;
export const H_SLOT_COUNT = 9;
/** First byte of the record area (the bump pointer's first value), fixed at creation. */
export const H_RECORDS_START = 10;
/**
 * Bytes the bump allocator handed out that hold no published record: creators that lost
 * a race for a name and could not give their bytes back (directory.ts). Only grows.
 */
export const H_ABANDONED_BYTES = 11;
/**
 * Length of the published-records log: one entry per directory slot ever logged, each
 * written by the CAS that claimed it before a record could be published in its slot.
 * Every entry below it is written; the entry at it may be, its appender having stopped
 * before moving the length, which the next appender does. Only grows; a reader bounds it
 * by the slot count (directory.ts).
 */
export const H_PUBLISHED = 12;
/** Bytes of stripe blocks allocated for series that inflated under contention (kinds/adaptive-cells.ts). Only grows. */
export const H_INFLATED_BYTES = 13;
/** Series that stayed uninflated because the registry had no room for their stripes. Only grows. */
export const H_INFLATIONS_REFUSED = 14;
export const HEADER_BYTES = 64;

/**
 * 128 bytes: two 64-byte cache lines. Adjacent-line prefetchers pull lines in pairs, so
 * blocks that different threads write must not share a 128-byte block.
 */
export const BLOCK = 128;

/*
 * A record: a 32-byte head, the name and signature as UTF-8, then (128-aligned) the data.
 *   +0 hash of the name   +4 kind code   +8 name length   +12 signature length
 *   +16 data offset       +20 data bytes
 * The signature is JSON describing what the name holds (kind, fields, striping, config):
 * any thread can compare it, and an exporter can enumerate a registry from it alone.
 */
export const R_HASH = 0;
export const R_KIND = 4;
export const R_NAME_LEN = 8;
export const R_SIG_LEN = 12;
export const R_DATA = 16;
export const R_DATA_BYTES = 20;
export const RECORD_HEAD_BYTES = 32;

export const DEFAULT_CAPACITY_BYTES = 4 * 1024 * 1024;
export const MIN_CAPACITY_BYTES = PAGE_BYTES;
export const MAX_CAPACITY_BYTES = 1024 * 1024 * 1024;
/**
 * The default stripe count for this machine: room for a worker pool of piscina's default
 * size (`maxThreads`: 1.5 threads per core), the main thread, and as many threads again
 * for the pool's churn, rounded up to a power of two, at most MAX_STRIPES.
 *
 * Why the churn. A pool replaces threads all the time (an idle one retired, a cancelled
 * task's thread terminated), and a terminated thread's stripe comes back only when the
 * thread that created it handles the Worker's 'exit' event (slots.ts). A replacement that
 * attaches before that, as it does whenever that thread is busy, finds the stripe still
 * held; with the whole pool replaced at once, up to `maxThreads` stripes are held by
 * threads that have stopped. An attachment that finds every stripe held counts on the
 * shared stripe for its whole life: exact, but contended.
 *
 * A stripe costs one 128-byte block per striped set (or series), so the count is sized
 * to the machine rather than fixed large: 8 stripes on 1 or 2 cores, 32 on 8.
 */
export function defaultStripes(cores: number): number {
  const pool = Math.ceil(Math.max(1, cores) * 1.5);
  const wanted = 2 * pool + 1;
  let s = 2;
  while (s < wanted && s < MAX_STRIPES) s *= 2;
  return s;
}
export const MAX_STRIPES = 256;

export const MAX_NAME_BYTES = 256;
/**
 * Bound on a record's signature (its JSON description), enforced when a record is
 * created and when one is read. The largest signature this version writes (64 fields of
 * 64 characters) is about 4.4 KB.
 */
export const MAX_SIGNATURE_BYTES = 8192;

/**
 * A stripe-slot table entry: 4 i32 words. Word 0 is the owner (0 free, threadId + 1
 * held, -(threadId + 1) being claimed); words 1..3 the owner's nearest ancestor threads
 * (threadId + 1 each, 0 for none). src/slots.ts explains the protocol.
 */
export const SLOT_ENTRY_WORDS = 4;
export const SLOT_ENTRY_BYTES = SLOT_ENTRY_WORDS * 4;
export const SLOT_ANCESTORS = SLOT_ENTRY_WORDS - 1;

/**
 * Where the published-records log goes: right after the directory, on a block of its own
 * (its words are written only when a record is published, so sharing a block with the
 * directory's would cost nothing either; the alignment keeps the arithmetic plain).
 * It has as many entries as the directory has slots, the most records it can publish.
 */
export function publishedLogOffset(dirSlots: number): number {
  return alignUp(HEADER_BYTES + dirSlots * 4, BLOCK);
}

/** Where the stripe-slot table goes in a new registry: right after the published-records log. */
export function slotTableOffset(dirSlots: number): number {
  return alignUp(publishedLogOffset(dirSlots) + dirSlots * 4, BLOCK);
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Directory slots for a capacity: one per KiB, a power of two, at least 64. */
export function directorySlotsFor(capacityBytes: number): number {
  let slots = 64;
  while (slots * 1024 < capacityBytes) slots *= 2;
  return slots;
}

/*
 * A counter set's data.
 *
 * Plain set: F shared cells, 8 bytes each.
 *
 * Striped set with S stripes:
 *   shared stripe   F u64 cells (atomic adds from threads without a stripe of their own,
 *                   and adds of 2^30 or more), padded to a 128-byte block
 *   owned stripe i  at sharedBlock + i * stride: F low words (u32: tag:8 | low:24),
 *                   padded to 8 bytes, then F high words (u64); stride rounded up to 128
 * Each owned stripe has one writer (see registry-core.ts), so its block is written by one
 * thread only; readers sum the shared cell and the S owned cells (assembly/counters.ts
 * explains the low/high split).
 */
export interface SetGeometry {
  readonly striped: boolean;
  readonly fieldCount: number;
  readonly stripes: number;
  readonly sharedBlockBytes: number;
  /** Offset of the high words within an owned stripe. */
  readonly highOffset: number;
  readonly stride: number;
  readonly dataBytes: number;
}

/**
 * Adds of at least this much go to the shared stripe (keeps an owned high word's step
 * small). The hot paths test it as the literal 0x40000000 (see OwnedCounter) and the
 * layout test checks that the two agree.
 */
export const OWNED_ADD_LIMIT = 2 ** 30;

export function setGeometry(fieldCount: number, striped: boolean, stripes: number): SetGeometry {
  if (!striped) {
    const bytes = fieldCount * 8;
    return { striped, fieldCount, stripes: 0, sharedBlockBytes: bytes, highOffset: 0, stride: 0, dataBytes: bytes };
  }
  const sharedBlockBytes = alignUp(fieldCount * 8, BLOCK);
  const highOffset = alignUp(fieldCount * 4, 8);
  const stride = alignUp(highOffset + fieldCount * 8, BLOCK);
  return { striped, fieldCount, stripes, sharedBlockBytes, highOffset, stride, dataBytes: sharedBlockBytes + stripes * stride };
}

/** Addresses of field `index`'s cells in a set whose data starts at `dataOffset`. */
export function cellAddresses(g: SetGeometry, dataOffset: number, index: number, stripe: number) {
  const ownedBase = dataOffset + g.sharedBlockBytes + stripe * g.stride;
  return {
    shared: dataOffset + index * 8,
    low: ownedBase + index * 4,
    high: ownedBase + g.highOffset + index * 8,
  };
}
