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
 *      name, that record wins and ours is abandoned (its bytes stay allocated and
 *      unused: at most one record per losing thread per race, a cost taken so that no
 *      thread ever blocks); otherwise keep probing with our record.
 * Two threads creating the same name walk the same probe sequence and compete for the
 * same slots, so exactly one record per name is ever published.
 *
 * Allocation is a CAS loop on the header's bump pointer that checks the capacity before
 * it moves the pointer, so a registry that is full rejects the call and changes nothing.
 */
import { RegistryFullError } from './errors.js';
import {
  BLOCK,
  H_ALLOC_TOP,
  H_CAPACITY,
  H_DIR_OFFSET,
  H_DIR_SLOTS,
  RECORD_HEAD_BYTES,
  R_DATA,
  R_DATA_BYTES,
  R_HASH,
  R_KIND,
  R_NAME_LEN,
  R_SIG_LEN,
  alignUp,
} from './layout.js';

export interface RecordInfo {
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

// TextDecoder refuses views of a SharedArrayBuffer: copy the bytes out first (slice).
function readString(v: MemoryViews, at: number, len: number): string {
  return decoder.decode(v.u8.slice(at, at + len));
}

function sameName(v: MemoryViews, record: number, hash: number, name: Uint8Array): boolean {
  const i = record >>> 2;
  if (v.i32[i + R_HASH / 4] !== hash || v.i32[i + R_NAME_LEN / 4] !== name.length) return false;
  const at = record + RECORD_HEAD_BYTES;
  for (let k = 0; k < name.length; k++) if (v.u8[at + k] !== name[k]) return false;
  return true;
}

export function readRecord(v: MemoryViews, record: number): RecordInfo {
  const i = record >>> 2;
  const nameLen = v.i32[i + R_NAME_LEN / 4]!;
  const sigLen = v.i32[i + R_SIG_LEN / 4]!;
  return {
    offset: record,
    name: readString(v, record + RECORD_HEAD_BYTES, nameLen),
    kind: v.i32[i + R_KIND / 4]!,
    signature: readString(v, record + RECORD_HEAD_BYTES + nameLen, sigLen),
    dataOffset: v.i32[i + R_DATA / 4]!,
    dataBytes: v.i32[i + R_DATA_BYTES / 4]!,
  };
}

/** Bump-allocates `bytes` (a multiple of BLOCK) or throws RegistryFullError, moving nothing. */
function allocate(v: MemoryViews, bytes: number, what: string): number {
  const capacity = v.i32[H_CAPACITY]! >>> 0;
  for (;;) {
    const top = Atomics.load(v.i32, H_ALLOC_TOP) >>> 0;
    if (top + bytes > capacity) {
      throw new RegistryFullError(
        `no room for ${what} (${bytes} bytes needed, ${capacity - top} of ${capacity} left); create the registry with a larger capacityBytes`,
      );
    }
    if (Atomics.compareExchange(v.i32, H_ALLOC_TOP, top | 0, (top + bytes) | 0) === (top | 0)) return top;
  }
}

export interface CreateRequest {
  readonly name: string;
  readonly kind: number;
  readonly signature: string;
  readonly dataBytes: number;
}

/** How many records are published (counts slots; decodes nothing). */
export function countRecords(v: MemoryViews): number {
  const dir = v.i32[H_DIR_OFFSET]! >>> 2;
  const slots = v.i32[H_DIR_SLOTS]!;
  let n = 0;
  for (let k = 0; k < slots; k++) if (Atomics.load(v.i32, dir + k) !== 0) n++;
  return n;
}

/** Bytes handed out by the bump allocator so far (header and directory included). */
export function usedBytes(v: MemoryViews): number {
  return Atomics.load(v.i32, H_ALLOC_TOP) >>> 0;
}

/** Every published record, in directory order. */
export function listRecords(v: MemoryViews): RecordInfo[] {
  const dir = v.i32[H_DIR_OFFSET]! >>> 2;
  const slots = v.i32[H_DIR_SLOTS]!;
  const out: RecordInfo[] = [];
  for (let k = 0; k < slots; k++) {
    const p = Atomics.load(v.i32, dir + k);
    if (p !== 0) out.push(readRecord(v, p));
  }
  return out;
}

/**
 * Returns the record for `req.name`: the existing one (whatever its signature: the caller
 * compares) or a new one holding `req`.
 */
export function findOrCreate(v: MemoryViews, req: CreateRequest): RecordInfo {
  const nameBytes = utf8(req.name);
  const hash = hashBytes(nameBytes);
  const dir = v.i32[H_DIR_OFFSET]! >>> 2;
  const slots = v.i32[H_DIR_SLOTS]!;
  const mask = slots - 1;

  let probe = 0;
  let slot = hash & mask;
  for (; probe < slots; probe++, slot = (slot + 1) & mask) {
    const p = Atomics.load(v.i32, dir + slot);
    if (p === 0) break;
    if (sameName(v, p, hash, nameBytes)) return readRecord(v, p);
  }
  if (probe === slots) {
    throw new RegistryFullError(`the directory's ${slots} entries are all used; create the registry with a larger capacityBytes`);
  }

  const sigBytes = utf8(req.signature);
  const headBytes = alignUp(RECORD_HEAD_BYTES + nameBytes.length + sigBytes.length, BLOCK);
  const record = allocate(v, headBytes + alignUp(req.dataBytes, BLOCK), `"${req.name}"`);
  const i = record >>> 2;
  v.i32[i + R_HASH / 4] = hash;
  v.i32[i + R_KIND / 4] = req.kind;
  v.i32[i + R_NAME_LEN / 4] = nameBytes.length;
  v.i32[i + R_SIG_LEN / 4] = sigBytes.length;
  v.i32[i + R_DATA / 4] = record + headBytes;
  v.i32[i + R_DATA_BYTES / 4] = req.dataBytes;
  v.u8.set(nameBytes, record + RECORD_HEAD_BYTES);
  v.u8.set(sigBytes, record + RECORD_HEAD_BYTES + nameBytes.length);

  for (; probe < slots; probe++, slot = (slot + 1) & mask) {
    const prev = Atomics.compareExchange(v.i32, dir + slot, 0, record);
    if (prev === 0) return { ...readRecord(v, record), created: true };
    if (sameName(v, prev, hash, nameBytes)) return readRecord(v, prev);
  }
  throw new RegistryFullError(`the directory's ${slots} entries are all used; create the registry with a larger capacityBytes`);
}

/** The record named `name`, or undefined: findOrCreate's probe without the create. */
export function findRecord(v: MemoryViews, name: string): RecordInfo | undefined {
  const nameBytes = utf8(name);
  const hash = hashBytes(nameBytes);
  const dir = v.i32[H_DIR_OFFSET]! >>> 2;
  const slots = v.i32[H_DIR_SLOTS]!;
  const mask = slots - 1;
  for (let probe = 0, slot = hash & mask; probe < slots; probe++, slot = (slot + 1) & mask) {
    const p = Atomics.load(v.i32, dir + slot);
    if (p === 0) return undefined;
    if (sameName(v, p, hash, nameBytes)) return readRecord(v, p);
  }
  return undefined;
}
