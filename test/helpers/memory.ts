// Reading and corrupting a registry's shared memory from a test, as a buggy thread would.
import type { StatsRegistry } from '../../src/index.js';
import {
  BLOCK,
  HEADER_BYTES,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  H_PUBLISHED,
  RECORD_HEAD_BYTES,
  R_NAME_LEN,
  alignUp,
  directorySlotsFor,
  publishedLogOffset,
  SLOT_ENTRY_BYTES,
  slotTableOffset,
  setGeometry,
} from '../../src/layout.js';

export const i32Of = (r: StatsRegistry): Int32Array => new Int32Array(r.handle.memory.buffer);
export const u8Of = (r: StatsRegistry): Uint8Array => new Uint8Array(r.handle.memory.buffer);

/** A copy of every byte of the registry's memory. */
export function bytesOf(r: StatsRegistry): Buffer {
  return Buffer.from(u8Of(r).slice());
}

/** The directory slot and record offset of `name` (found by walking the slots, by bytes). */
export function recordOf(r: StatsRegistry, name: string): { slot: number; offset: number } {
  const i32 = i32Of(r);
  const u8 = u8Of(r);
  const want = Buffer.from(name, 'utf8');
  const slots = directorySlotsFor(r.capacityBytes);
  for (let k = 0; k < slots; k++) {
    const p = i32[HEADER_BYTES / 4 + k]!;
    if (p <= 0) continue; // free, or announced (negative): no record
    const len = i32[(p + R_NAME_LEN) / 4]!;
    if (len === want.length && Buffer.compare(Buffer.from(u8.slice(p + RECORD_HEAD_BYTES, p + RECORD_HEAD_BYTES + len)), want) === 0) {
      return { slot: k, offset: p };
    }
  }
  throw new Error(`no record named ${name}`);
}

/** The header's directory offset and slot count as created (tests check they are not re-read). */
export function headerWords(r: StatsRegistry): { dirOffset: number; dirSlots: number } {
  const i32 = i32Of(r);
  return { dirOffset: i32[H_DIR_OFFSET]!, dirSlots: i32[H_DIR_SLOTS]! };
}

/** First byte of the record area of a registry of this capacity. */
export function recordsStart(capacity: number, stripes: number): number {
  // The stripe-slot table (one entry per stripe, then a trailer) sits between them.
  return alignUp(slotTableOffset(directorySlotsFor(capacity)) + (stripes + 1) * SLOT_ENTRY_BYTES, BLOCK);
}

/** Bytes a published counter-set record takes, computed from the layout independently. */
export function counterRecordBytes(name: string, fields: readonly string[], striped: boolean, stripes: number, kind = 'counters'): number {
  const sig = JSON.stringify({ kind, fields: [...fields], striped });
  const head = alignUp(RECORD_HEAD_BYTES + Buffer.byteLength(name) + Buffer.byteLength(sig), BLOCK);
  return head + alignUp(setGeometry(fields.length, striped, stripes).dataBytes, BLOCK);
}

/**
 * Points directory slot `slot` at `offset` and appends the slot to the published-records
 * log, as a creator does: what a buggy thread forging a record has to write for listings
 * to see it.
 */
export function forgeSlot(r: StatsRegistry, slot: number, offset: number): void {
  const i32 = i32Of(r);
  i32[HEADER_BYTES / 4 + slot] = offset;
  const entry = Atomics.add(i32, H_PUBLISHED, 1);
  i32[publishedLogOffset(directorySlotsFor(r.capacityBytes)) / 4 + entry] = slot + 1;
}

/** The published-records log as the memory holds it: its length word and its entries below that length (capped at the slot count). */
export function logOf(r: StatsRegistry): { length: number; entries: number[] } {
  const i32 = i32Of(r);
  const slots = directorySlotsFor(r.capacityBytes);
  const length = i32[H_PUBLISHED]!;
  const at = publishedLogOffset(slots) / 4;
  return { length, entries: Array.from(i32.subarray(at, at + Math.min(length, slots))) };
}

/** The names of every record the directory's slots point at, found by walking every slot (not the log). */
export function slotScanNames(r: StatsRegistry): string[] {
  const i32 = i32Of(r);
  const u8 = u8Of(r);
  const out: string[] = [];
  for (let k = 0; k < directorySlotsFor(r.capacityBytes); k++) {
    const p = i32[HEADER_BYTES / 4 + k]!;
    if (p <= 0) continue; // free, or announced (negative): no record
    const len = i32[(p + R_NAME_LEN) / 4]!;
    out.push(Buffer.from(u8.slice(p + RECORD_HEAD_BYTES, p + RECORD_HEAD_BYTES + len)).toString());
  }
  return out;
}

/**
 * The slot a get-or-create of `name` (not present yet) would publish in now: the first
 * free slot (0, or announced: negative) of its probe sequence, computed independently of
 * the library (FNV-1a of the UTF-8 bytes, linear probing).
 */
export function freeSlotFor(r: StatsRegistry, name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  const slots = directorySlotsFor(r.capacityBytes);
  const i32 = i32Of(r);
  for (let n = 0, k = h & (slots - 1); n < slots; n++, k = (k + 1) & (slots - 1)) if (i32[HEADER_BYTES / 4 + k]! <= 0) return k;
  throw new Error('no free slot');
}

/**
 * Does by hand what a creator terminated right after writing its log entry for `slot`
 * leaves (directory.ts), and what another thread then does to finish its steps: 1 writes
 * the entry at the log's length (the creator's step), 2 also marks the slot as announced
 * by that entry (~entry), 3 also moves the length past it. Returns the entry.
 */
export function announceByHand(r: StatsRegistry, slot: number, steps: 1 | 2 | 3): number {
  const i32 = i32Of(r);
  const entry = Atomics.load(i32, H_PUBLISHED);
  Atomics.store(i32, publishedLogOffset(directorySlotsFor(r.capacityBytes)) / 4 + entry, slot + 1);
  if (steps >= 2) Atomics.store(i32, HEADER_BYTES / 4 + slot, ~entry);
  if (steps >= 3) Atomics.store(i32, H_PUBLISHED, entry + 1);
  return entry;
}
