/*
 * The labelled series of a metric family, in shared memory, with removal: remove(labels)
 * gives a series' maxSeries unit and its memory back, so that label values that come and
 * go (tenants, jobs) keep a metric bounded, while any thread may still hold a cached child
 * of the series that was removed.
 *
 * Why not directory records. A directory record is never freed (directory.ts: slots go
 * from 0 to a record once, and the bump allocator never hands out the same bytes twice),
 * and a series named by its labels would take one record per label set ever seen. So a
 * family owns its series itself: a small hash table of lists in its own record, and
 * series nodes in blocks that the directory hands out once (Directory.allocateBlock) and
 * that this layer reuses.
 *
 * The family's data (a labelled family; an unlabelled one keeps its one series inline):
 *   +0   the count word (claims.ts: claims, and a bit per ticket in flight, bounding maxSeries)
 *   +4   removals: how many series were ever removed (a thread compares it with the last
 *        value it saw to learn that some cached child may be stale; see "Stale children")
 *   +8   chain: the newest node this family ever allocated; each node links to the one
 *        allocated before it, for good, so a scrape walks every node of the family
 *   +12  removed: 1 once remove(), reset() or another user call removed a series (the
 *        removals word also counts the nodes of creators that lost a race to create the
 *        same series, which no user asked for; this word alone decides whether the
 *        stale-writes family is exported, so that a scrape does not depend on how the
 *        threads' first writes happened to overlap)
 *   +16  free list of small nodes, +24 of large ones: 64-bit words, tag:32 | node:32
 *   +32  12 claim tickets of 8 bytes (claims.ts: the thread holding each, and its node)
 *   +128 free list of the stripe blocks of contended series (adaptive-cells.ts), 64-bit
 *   +136 the creation sequence: taken by every creator before it publishes its node (see
 *        "Order")
 *   +140 B bucket words, B a power of two >= maxSeries / 4 (at least 16): the head of a
 *        list of nodes, newest first
 *
 * A node: a head block, then the series' cells (the kind's layout, 128-byte aligned so
 * that no two series share a cache line, and striped cells keep their stripe blocks), or,
 * for a family whose cells take at most 16 bytes (counters and gauges), a node of 128
 * bytes in all whose cells lie inside its head (an "inline" node, see below):
 *   +0  state: FREE, LIVE, REMOVED or ABANDONED (its creator stopped before publishing it:
 *       claims.ts)                          +4  gen: even at rest, odd while reclaimed
 *   +8  next in its bucket's list, bit 0 the removal mark
 *   +12 chain (the family's allocation chain, never changed once set)
 *   +16 next on the free list (a free node), or its creation sequence (a live one)
 *                                           +20 refs: references held (see below)
 *   +24 the family record's data offset     +28 hash of the key   +32 key length
 *   +36 head bytes (128 or 384)             +40 the tally at removal (f64)
 *   +48 stale writes counted when reclaimed (f64)
 *   +64 the key: each label value, in the family's sorted label-name order, as a 16-bit
 *       length and its UTF-8 bytes. A key of up to 64 bytes fits a 128-byte head (a
 *       "small" node), longer keys (up to 320, more than the 256 bytes a series name may
 *       take) a 384-byte head. A size class and the family fix a node's geometry, so a
 *       free node of the same class fits any later series of the same family.
 *   Inline nodes: the cells at +56 (16 bytes), the key at +72 (up to 56 bytes). A family
 *       whose cells fit has inline nodes as its small class: a series of a counter or a
 *       gauge then takes one 128-byte block, shared by no other series, instead of two.
 *       The head word (+36) holds where the cells start: 56, 128 or 384.
 *
 * Lists, and one series per label set. A bucket is a singly linked list in the manner of
 * Harris' lock-free lists, with one rule of its own: a node is only ever pushed at the
 * head, so a list is ordered newest first, and when two threads create the same series at
 * once and both push a node, the OLDEST unmarked node with that key is the series. Every
 * reader applies the rule (a lookup walks the whole list and keeps the last match), and
 * so does the creator: after its push it looks the key up again; if the answer is another
 * node, it lost, and removes its own. A lookup that runs while both nodes are there gives
 * the older one, the one that will stay. So for every key at most one node is the series
 * at any instant, and which one never changes while it lives.
 *
 * Order. A scrape lists a family's series as prom-client lists its own, in the order they
 * were created. The allocation chain is no such order: when threads create the same series
 * at once, the losers' nodes are freed, and a series created later may reuse one, older in
 * the chain than the series that won. So a creator takes a number from the family's
 * sequence word before it publishes its node and writes it in the node, and a scrape sorts
 * the live series by it. A series created after another finished creating (its own call,
 * or a call that found it) always has the larger number, whichever thread made which.
 *
 * Removal, Harris style. A remover sets the mark bit of the node's own next word with a
 * compare-and-swap (the one whose CAS sets it is the one remover; the node is then no
 * longer the series), then records the series' tally (its value, or its count of
 * observations) as it is at that moment, then gives the family's count a unit back. A
 * marked node is unlinked by whoever walks past it: a CAS on its predecessor's next word
 * (or the bucket word) from the node to its successor. The mark in the node's own next
 * word is what makes that safe: a CAS that would link a node after a marked one fails,
 * so nothing is ever lost behind a node being unlinked.
 *
 * Memory, and references. A node is reused once nobody can reach it: its refs count the
 * list that links it (1 while linked) and every holder (a thread's cached child, and a
 * walker's step). A walker acquires the next node before it reads it (a CAS that refuses
 * a count of 0: a node at 0 is being reclaimed), releases the one before, and checks that
 * the link it followed still leads to the node it acquired; so no walker ever stands on a
 * node that is reclaimed under it, and a link CAS can never succeed on a node that was
 * reused (the ABA that makes Harris' lists need hazard pointers or epochs: the count is
 * this layer's hazard pointer). The thread whose release takes refs to 0 reclaims the node:
 * it counts the stale writes (below), zeroes the cells, and pushes the node on the family's
 * free list of its size class. The free list's head carries a 32-bit tag, bumped by every
 * push and pop, so a pop whose node was popped and pushed back meanwhile fails.
 *
 * Stale children, the crux. A thread caches a child per series (labels.ts: no string is
 * built after the first use) and its hot path writes the child's cells with no check at
 * all. After another thread removes the series, that child writes on into the node it
 * holds: it holds a reference, so the node is not reused, and its writes never land in
 * another series. The thread learns of the removal at its next quiescent point: any slow
 * path of the metric (a new label set, get(), remove, reset, zero), and, for a thread
 * whose event loop turns, a check every second (an unref'd timer; metric-base.ts). It
 * compares the family's removals word with the last value it saw, and only when it
 * changed walks its cached children, one load each. A child whose node is no longer
 * live is detached (its prototype swapped, so no hot method ever tests anything) and its
 * reference released; its next write re-creates the series, as prom-client's does after
 * remove(). The writes it made in between landed in the removed node: when the node is
 * reclaimed they are the difference between its tally then and its tally at removal,
 * and they are added to the node's stale count, which survives reuse. A scrape walks
 * every node of the family and exports the sum (atomic_stats_metric_stale_writes_total,
 * for a family that has removed a series), counting a node not yet reclaimed by its
 * current difference, so nothing written after a removal is ever lost silently. A
 * node's gen is odd while it is reclaimed, a seqlock for that scrape: a node read while
 * its count moves from "difference" to "stale count" is read again.
 *
 * What a cached child costs. Nothing on its hot path: no generation word is read by
 * inc() or observe(). The price is paid elsewhere: one load per metric at each quiescent
 * point, a walk of the cached children when something was removed, and the memory of a
 * removed series held back until every thread that cached it has passed one.
 *
 * The worst cases. A worker terminated while it holds a cached child never releases it:
 * that node (one per series it held, if the series is removed) is never reused, and its
 * memory is not given back; the series' maxSeries unit is, at removal. A thread whose
 * event loop never turns (a loop that never returns) keeps its children until its next
 * slow path. A thread killed in the middle of a removal, between the mark and the count,
 * keeps the unit. None of these blocks another thread: every loop here is bounded by
 * this thread's own copy of the capacity, every offset read from the memory is checked
 * against the record area and the family before it is used, and a list that does not
 * settle within the bound is reported as a corrupt registry.
 */
import { CorruptRegistryError } from '../errors.js';
import { utf8 } from '../directory.js';
import { alignUp } from '../layout.js';
import type { RegistryCore } from '../registry-core.js';
import { TICKETS, TICKET_BYTES, type OrphanNodes } from './claims.js';

/** How the table reads and zeroes a kind's series cells. */
export interface TableSpec {
  /** Bytes of one series' cells. */
  readonly cellBytes: number;
  /** The series' tally: a counter's value, a histogram's or summary's count, a gauge's value. */
  tally(cells: number): number;
  /** True for gauges: a stale write is a change of the value (1), not an amount. */
  readonly changeOnly: boolean;
  /** A node's cells are being reclaimed (after their stale writes were counted): give back what they own beyond the node (a stripe block). */
  reclaim?(cells: number): void;
}

// Node states.
const FREE = 0;
const LIVE = 1;
const REMOVED = 2;
const ABANDONED = 3;

// Node words (i32 indexes from the node's first word) and byte offsets.
const N_STATE = 0;
const N_GEN = 1;
const N_NEXT = 2;
const N_CHAIN = 3;
const N_FREE = 4;
const N_REFS = 5;
const N_FAMILY = 6;
const N_HASH = 7;
const N_KEYLEN = 8;
const N_HEAD = 9;
const N_V0 = 40;
const N_STALE = 48;
const N_KEY = 64;
const SMALL_HEAD = 128;
const LARGE_HEAD = 384;
// Inline nodes: cells at +56, the key at +72, 128 bytes in all.
const INLINE_CELLS = 56;
const INLINE_KEY = 72;
const INLINE_MAX_CELLS = 16;

// Family words (i32 indexes from the family's data) and byte offsets.
const F_COUNT = 0;
const F_REMOVALS = 1;
const F_CHAIN = 2;
const F_REMOVED = 3;
const F_FREE_SMALL = 16;
const F_FREE_LARGE = 24;
const F_TICKETS = 32;
const F_BLOCKS = F_TICKETS + TICKETS * TICKET_BYTES;
const F_SEQ = F_BLOCKS + 8;
const F_BUCKETS = F_SEQ + 4;

/** Byte offset of a labelled family's free list of stripe blocks (adaptive-cells.ts). */
export function blockFreeList(familyData: number): number {
  return familyData + F_BLOCKS;
}

/** i32 index of a labelled family's count word and of its first ticket word. */
export function claimWords(familyData: number): { countIndex: number; ticket0: number } {
  return { countIndex: (familyData + F_COUNT * 4) >>> 2, ticket0: (familyData + F_TICKETS) >>> 2 };
}

// A walk that restarts this often has met a list that never settles: corrupt memory.
const MAX_RESTARTS = 10_000;

/** Bucket words of a family of `maxSeries`: a power of two, at least maxSeries / 4 and 16. */
export function bucketsFor(maxSeries: number): number {
  let b = 16;
  while (b * 4 < maxSeries) b *= 2;
  return b;
}

/** Data bytes of a labelled family's record. */
export function labelledFamilyBytes(maxSeries: number): number {
  return F_BUCKETS + 4 * bucketsFor(maxSeries);
}

/** Bytes of one node of a family whose series' cells take `cellBytes`, for a key of `keyBytes`. */
export function nodeBytes(keyBytes: number, cellBytes: number): number {
  const head = headFor(keyBytes, cellBytes);
  return head === INLINE_CELLS ? SMALL_HEAD : head + alignUp(cellBytes, 128);
}

// Where a node's cells start (its head word): inline, after a small head, or after a large one.
function headFor(keyBytes: number, cellBytes: number): number {
  if (cellBytes <= INLINE_MAX_CELLS) return keyBytes <= SMALL_HEAD - INLINE_KEY ? INLINE_CELLS : LARGE_HEAD;
  return keyBytes <= SMALL_HEAD - N_KEY ? SMALL_HEAD : LARGE_HEAD;
}

// Where a node's key starts, and the most bytes it may take, given its head word.
const keyAt = (head: number): number => (head === INLINE_CELLS ? INLINE_KEY : N_KEY);
const keyRoom = (head: number): number => (head === INLINE_CELLS ? SMALL_HEAD - INLINE_KEY : head - N_KEY);

/** The key of a label set: each value (sorted-name order) as a 16-bit length and its UTF-8 bytes. */
export function encodeKey(values: readonly string[]): Uint8Array {
  const parts = values.map((v) => utf8(v));
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at] = p.length >>> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

// FNV-1a, 32-bit: spreads keys over buckets; equality is decided on the bytes.
export function hashKey(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

// One label value of a key: ASCII (most label values) by char codes, which costs a scrape
// a fraction of a TextDecoder call per value; anything else by the decoder, which refuses
// malformed UTF-8 (fatal) so a corrupt key reads as no key.
function decodeValue(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return decoder.decode(bytes.subarray(from, to));
    s += String.fromCharCode(b);
  }
  return s;
}

/** One node of a scrape: a live series' cells (read by the caller) and its identity. */
export interface LiveNode<R> {
  readonly node: number;
  readonly gen: number;
  readonly value: R;
  /** Its creation sequence (see "Order"). */
  readonly seq: number;
}

const i64Views = new WeakMap<RegistryCore, BigInt64Array>();

/** One thread's handle on one family's table (metric-base.ts makes one per Metric). */
export class SeriesTable implements OrphanNodes {
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly i64: BigInt64Array;
  private readonly base: number;
  private readonly bucket0: number;
  private readonly mask: number;
  private readonly cellBytes: number;
  // The cells' own bytes (what a reclaim zeroes), and whether the family's small nodes are inline.
  private readonly exactCellBytes: number;
  private readonly inline: boolean;
  // Most nodes the memory can hold: bounds every walk, whatever the links say.
  private readonly limit: number;
  // Whether the last walk given a node to seek passed it (see walk).
  private sought = false;
  // No per-node cache: a node's head size and family are read and checked at every use
  // (two loads), which costs less than a Map entry per series in every thread's heap; a
  // node whose head words were overwritten since is then refused where it is met, never
  // followed out of bounds.
  /** i32 index of the family's count word. */
  readonly countIndex: number;
  /** i32 index of the family's removals word. */
  readonly removalsIndex: number;
  /** i32 index of the word that is 1 once a user call removed a series (see the layout). */
  readonly removedIndex: number;

  constructor(
    private readonly registry: RegistryCore,
    private readonly family: string,
    private readonly familyData: number,
    maxSeries: number,
    private readonly spec: TableSpec,
  ) {
    this.i32 = registry.views.i32;
    this.u8 = registry.views.u8;
    let i64 = i64Views.get(registry);
    if (i64 === undefined) i64Views.set(registry, (i64 = new BigInt64Array(this.i32.buffer)));
    this.i64 = i64;
    this.base = familyData >>> 2;
    this.countIndex = this.base + F_COUNT;
    this.removalsIndex = this.base + F_REMOVALS;
    this.removedIndex = this.base + F_REMOVED;
    const buckets = bucketsFor(maxSeries);
    this.bucket0 = (familyData + F_BUCKETS) >>> 2;
    this.mask = buckets - 1;
    this.cellBytes = alignUp(spec.cellBytes, 128);
    this.exactCellBytes = spec.cellBytes;
    this.inline = spec.cellBytes <= INLINE_MAX_CELLS;
    this.limit = Math.floor(registry.capacityBytes / SMALL_HEAD) + 1;
  }

  /**
   * Bytes from a node to its cells for every node but those whose keys needed a large
   * head (longer than a small head has room for): the inline cells' offset when the
   * family's cells are small enough to be inline, else the small head's.
   */
  get smallHead(): number {
    return this.inline ? INLINE_CELLS : SMALL_HEAD;
  }

  /** Where the cells of `node` start. */
  cells(node: number): number {
    const head = this.headOf(node);
    if (head === 0) throw new CorruptRegistryError(this.family, `the head of a series node (at ${node}) was overwritten`);
    return node + head;
  }

  // The head bytes of `p` (read from the memory) when it is a node of this family inside
  // the record area, else 0.
  private headOf(p: number): number {
    const dir = this.registry.directory;
    if (!dir.blockFits(p, SMALL_HEAD)) return 0;
    const w = p >>> 2;
    const head = Atomics.load(this.i32, w + N_HEAD);
    if (head === INLINE_CELLS ? !this.inline : (head !== SMALL_HEAD || this.inline) && head !== LARGE_HEAD) return 0;
    if (head !== INLINE_CELLS && !dir.blockFits(p, head + this.cellBytes)) return 0;
    return Atomics.load(this.i32, w + N_FAMILY) === this.familyData ? head : 0;
  }

  /** The node of the live series with this key, acquired (release it), or 0. */
  lookup(key: Uint8Array, hash: number): number {
    return this.walk(hash & this.mask, key, hash);
  }

  /**
   * Creates the series of `key` (the caller holds a claim on the count: see insert's
   * comment), or finds the one another thread created at the same time. Returns its node,
   * acquired, and whether it is the node this call created; `claimed` is told the node
   * allocated before it is published (claims.ts), and `loser`, when set, is a node of this
   * call that lost the race, removed, whose reference the caller releases once its claim
   * has ended (until then the claim's ticket names it, so it must not be reused).
   */
  insert(key: Uint8Array, hash: number, claimed: (node: number) => void): { node: number; created: boolean; loser: number } {
    const head = headFor(key.length, this.exactCellBytes);
    const p = this.allocate(head);
    claimed(p);
    const w = p >>> 2;
    const i32 = this.i32;
    Atomics.add(i32, w + N_GEN, 1);
    Atomics.store(i32, w + N_HASH, hash);
    Atomics.store(i32, w + N_KEYLEN, key.length);
    this.u8.set(key, p + keyAt(head));
    Atomics.store(i32, w + N_FREE, Atomics.add(i32, this.base + (F_SEQ >>> 2), 1));
    this.registry.ops.metrics.gaugeSet(p + N_V0, 0);
    // The creator's reference and the list's.
    Atomics.store(i32, w + N_REFS, 2);
    Atomics.store(i32, w + N_STATE, LIVE);
    Atomics.add(i32, w + N_GEN, 1);
    const b = this.bucket0 + (hash & this.mask);
    for (;;) {
      const h = Atomics.load(i32, b);
      Atomics.store(i32, w + N_NEXT, h);
      if (Atomics.compareExchange(i32, b, h, p) === h) break;
    }
    // The node carries one unit of the count from here until it is marked (remove()
    // gives it back), so the creator only ends its claim's in-flight state.
    const winner = this.walk(hash & this.mask, key, hash);
    if (winner === p) {
      this.release(p); // the walk's reference; the creator's is the caller's now
      return { node: p, created: true, loser: 0 };
    }
    if (winner !== 0) {
      // An older node with this key is the series: ours goes (not a user's removal).
      this.remove(p, false);
      return { node: winner, created: false, loser: p };
    }
    // Ours was removed by another thread already: a series created, then removed.
    return { node: p, created: true, loser: 0 };
  }

  /** Whether `node`, read from the memory (a claim ticket), is a node of this family. */
  knows(node: number): boolean {
    return this.check(node);
  }

  /**
   * The node of a creator that stopped with its claim in flight (claims.ts): true when it
   * was published (reachable from its bucket, or marked, which only a linked node ever
   * is), and then removed if it lost a creation race; false when it never was, and then
   * it is marked abandoned, so that no scrape or reset takes it for a series. Both facts
   * are stable once its creator has stopped (it holds a reference, so the node is never
   * reclaimed), so every thread that settles the same node decides the same.
   */
  settleAbandoned(node: number): boolean {
    const w = node >>> 2;
    const i32 = this.i32;
    if ((Atomics.load(i32, w + N_NEXT) & 1) !== 0) return true;
    const hash = Atomics.load(i32, w + N_HASH);
    this.walk(hash & this.mask, undefined, 0, node);
    if (!this.sought) {
      if ((Atomics.load(i32, w + N_NEXT) & 1) !== 0) return true; // marked since: it was linked
      Atomics.store(i32, w + N_STATE, ABANDONED);
      return false;
    }
    const len = Atomics.load(i32, w + N_KEYLEN);
    const head = this.headOf(node);
    if (head !== 0 && len >= 0 && len <= keyRoom(head)) {
      const at = node + keyAt(head);
      const winner = this.walk(hash & this.mask, this.u8.slice(at, at + len), hash);
      if (winner !== 0 && winner !== node) this.remove(node, false); // a lost creation race, not a user's removal
      if (winner !== 0) this.release(winner);
    }
    return true;
  }

  /**
   * Removes the series whose node is `node` (held by the caller): true if this call
   * removed it, false if another removal came first. Gives the family's count its unit
   * back; the node is reused once every reference to it is released.
   */
  remove(node: number, byUser = true): boolean {
    const w = node >>> 2;
    const i32 = this.i32;
    if (byUser && Atomics.load(i32, this.removedIndex) === 0) Atomics.store(i32, this.removedIndex, 1);
    for (;;) {
      const nx = Atomics.load(i32, w + N_NEXT);
      if ((nx & 1) !== 0) return false;
      if (Atomics.compareExchange(i32, w + N_NEXT, nx, nx | 1) === nx) break;
    }
    this.registry.ops.metrics.gaugeSet(node + N_V0, this.spec.tally(this.cells(node)));
    Atomics.store(i32, w + N_STATE, REMOVED);
    Atomics.sub(i32, this.countIndex, 1);
    Atomics.notify(i32, this.countIndex);
    Atomics.add(i32, this.removalsIndex, 1);
    // Unlink it now rather than leave it to the next walker of its bucket.
    this.walk(Atomics.load(i32, w + N_HASH) & this.mask, undefined, 0);
    return true;
  }

  /** Whether `node` (held by the caller) is still its series. */
  isLive(node: number): boolean {
    const w = node >>> 2;
    return Atomics.load(this.i32, w + N_STATE) === LIVE && (Atomics.load(this.i32, w + N_NEXT) & 1) === 0;
  }

  /** Takes one more reference on `node`, which the caller already holds one on. */
  hold(node: number): void {
    Atomics.add(this.i32, (node >>> 2) + N_REFS, 1);
  }

  /** Gives back one reference; the last one reclaims a removed node. */
  release(node: number): void {
    if (Atomics.sub(this.i32, (node >>> 2) + N_REFS, 1) === 1) this.reclaim(node);
  }

  /** Every node now live, acquired (each released by the caller), oldest first. */
  liveNodes(): number[] {
    const out: number[] = [];
    for (const p of this.chain()) {
      if (!this.acquire(p)) continue;
      if (this.isLive(p)) out.push(p);
      else this.release(p);
    }
    return out;
  }

  /** The label values of `node`'s key, or undefined when its bytes are not a key of `count` values. */
  decodeKey(node: number, count: number): string[] | undefined {
    const len = Atomics.load(this.i32, (node >>> 2) + N_KEYLEN);
    const head = this.headOf(node);
    if (head === 0 || len < 0 || len > keyRoom(head)) return undefined;
    // A copy: the bytes of a live node's key never change, but a copy is what a corrupt or
    // reclaimed node is checked on, once (the caller re-reads the node's gen).
    const bytes = this.u8.slice(node + keyAt(head), node + keyAt(head) + len);
    const values: string[] = [];
    let at = 0;
    try {
      while (at < len) {
        if (at + 2 > len) return undefined;
        const n = (bytes[at]! << 8) | bytes[at + 1]!;
        if (at + 2 + n > len) return undefined;
        values.push(decodeValue(bytes, at + 2, at + 2 + n));
        at += 2 + n;
      }
    } catch {
      return undefined;
    }
    return values.length === count ? values : undefined;
  }

  /**
   * One read of the family for a scrape: every live series (its node, gen and what `read`
   * made of its cells), oldest first, and the stale writes of every node (see the header).
   * A node that is being reclaimed is read again once it is done (its gen is the seqlock).
   */
  read<R>(read: (cells: number) => R): { live: LiveNode<R>[]; stale: number } {
    const i32 = this.i32;
    const m = this.registry.ops.metrics;
    const live: LiveNode<R>[] = [];
    let stale = 0;
    for (const p of this.chain()) {
      const w = p >>> 2;
      for (let tries = 0; tries < 8; tries++) {
        const g1 = Atomics.load(i32, w + N_GEN);
        if ((g1 & 1) !== 0) continue;
        const state = Atomics.load(i32, w + N_STATE);
        const marked = (Atomics.load(i32, w + N_NEXT) & 1) !== 0;
        const cells = this.cells(p);
        let s = m.gaugeGet(p + N_STALE);
        let value: R | undefined;
        if (state === REMOVED) s += this.difference(p, cells);
        else if (state === LIVE && !marked) value = read(cells);
        if (Atomics.load(i32, w + N_GEN) !== g1) continue;
        if (s > 0) stale += s;
        if (value !== undefined) live.push({ node: p, gen: g1, value, seq: Atomics.load(i32, w + N_FREE) >>> 0 });
        break;
      }
    }
    // Creation order; the difference taken modulo 2^32, so the order survives the word's
    // wrap while the live series span fewer than 2^31 creations. Nearly sorted already
    // (the chain is allocation order), which the sort handles in one pass.
    live.sort((a, b) => (a.seq - b.seq) | 0);
    return { live, stale };
  }

  // Stale writes in removed node `p` not yet reclaimed: its tally now against its tally at removal.
  private difference(p: number, cells: number): number {
    const now = this.spec.tally(cells);
    const then = this.registry.ops.metrics.gaugeGet(p + N_V0);
    if (this.spec.changeOnly) return Object.is(now, then) || now === then ? 0 : 1;
    return now > then ? now - then : 0;
  }

  // Every node of the family, oldest first (the chain is newest first).
  private chain(): number[] {
    const out: number[] = [];
    let p = Atomics.load(this.i32, this.base + F_CHAIN);
    for (let n = 0; p !== 0 && n < this.limit; n++) {
      if (!this.check(p)) break;
      out.push(p);
      p = Atomics.load(this.i32, (p >>> 2) + N_CHAIN);
    }
    return out.reverse();
  }

  // Whether `p`, read from the memory, is a node of this family inside the record area.
  private check(p: number): boolean {
    return this.headOf(p) !== 0;
  }

  private acquire(p: number): boolean {
    const i = (p >>> 2) + N_REFS;
    for (;;) {
      const r = Atomics.load(this.i32, i);
      if (r <= 0) return false;
      if (Atomics.compareExchange(this.i32, i, r, r + 1) === r) return true;
    }
  }

  /**
   * Walks bucket `b` from its head, unlinking every marked node it meets, and returns the
   * oldest live node whose key is `key`, acquired, or 0 (always 0 without a key).
   */
  private walk(b: number, key: Uint8Array | undefined, hash: number, seek = 0): number {
    const i32 = this.i32;
    const bucket = this.bucket0 + b;
    for (let restart = 0; restart < MAX_RESTARTS; restart++) {
      this.sought = false;
      let best = 0;
      let pred = 0; // 0: the bucket word
      let curr = Atomics.load(i32, bucket);
      let settled = true;
      for (let steps = 0; curr !== 0; steps++) {
        if (steps > this.limit || !this.check(curr)) break; // a corrupt list: stop at the bad link
        if (!this.acquire(curr)) {
          settled = false; // being reclaimed: it was unlinked under us
          break;
        }
        const link = pred === 0 ? bucket : (pred >>> 2) + N_NEXT;
        if (Atomics.load(i32, link) !== curr) {
          // The link moved (pushed over, unlinked, or pred marked): start again.
          this.release(curr);
          settled = false;
          break;
        }
        const nx = Atomics.load(i32, (curr >>> 2) + N_NEXT);
        if ((nx & 1) !== 0) {
          // Marked: unlink it. The CAS fails if pred was marked or linked elsewhere meanwhile.
          if (Atomics.compareExchange(i32, link, curr, nx & ~1) === curr) {
            this.release(curr); // the walk's reference
            this.release(curr); // the list's
            curr = nx & ~1;
            continue;
          }
          this.release(curr);
          settled = false;
          break;
        }
        if (curr === seek) this.sought = true;
        if (key !== undefined && this.matches(curr, key, hash)) {
          if (best !== 0) this.release(best);
          this.hold(curr);
          best = curr;
        }
        if (pred !== 0) this.release(pred);
        pred = curr;
        curr = nx;
      }
      if (pred !== 0) this.release(pred);
      if (settled) return best;
      if (best !== 0) this.release(best);
    }
    throw new CorruptRegistryError(this.family, 'a list of its series did not settle (its links form a loop, or the memory was overwritten)');
  }

  private matches(p: number, key: Uint8Array, hash: number): boolean {
    const w = p >>> 2;
    if (Atomics.load(this.i32, w + N_STATE) !== LIVE || Atomics.load(this.i32, w + N_HASH) !== hash) return false;
    if (Atomics.load(this.i32, w + N_KEYLEN) !== key.length) return false;
    const at = p + keyAt(this.headOf(p));
    for (let k = 0; k < key.length; k++) if (this.u8[at + k] !== key[k]) return false;
    return true;
  }

  // A free node of this head size, or a fresh one linked into the family's chain.
  private allocate(head: number): number {
    const i64 = this.i64;
    const free = (this.familyData + (head === LARGE_HEAD ? F_FREE_LARGE : F_FREE_SMALL)) >>> 3;
    for (let n = 0; n < this.limit; n++) {
      const h = Atomics.load(i64, free);
      const p = Number(h & 0xffffffffn);
      if (p === 0 || this.headOf(p) !== head) break;
      const next = Atomics.load(this.i32, (p >>> 2) + N_FREE) >>> 0;
      const tagged = BigInt.asIntN(64, (((h >> 32n) + 1n) << 32n) | BigInt(next));
      if (Atomics.compareExchange(i64, free, h, tagged) === h) {
        if (Atomics.load(this.i32, (p >>> 2) + N_STATE) === FREE) return p;
        break; // not a free node: the list is corrupt; leave it and allocate afresh
      }
    }
    const p = this.registry.directory.allocateBlock(head === INLINE_CELLS ? SMALL_HEAD : head + this.cellBytes, `a series of "${this.family}"`);
    const w = p >>> 2;
    Atomics.store(this.i32, w + N_HEAD, head);
    Atomics.store(this.i32, w + N_FAMILY, this.familyData);
    const chain = this.base + F_CHAIN;
    for (;;) {
      const h = Atomics.load(this.i32, chain);
      Atomics.store(this.i32, w + N_CHAIN, h);
      if (Atomics.compareExchange(this.i32, chain, h, p) === h) return p;
    }
  }

  // Refs reached 0: nobody can reach `p` any more. Count its stale writes, zero it, free it.
  private reclaim(p: number): void {
    const w = p >>> 2;
    const i32 = this.i32;
    if (Atomics.load(i32, w + N_STATE) !== REMOVED) return; // never live-and-unreferenced unless corrupt: leave it
    const m = this.registry.ops.metrics;
    const cells = this.cells(p);
    Atomics.add(i32, w + N_GEN, 1);
    const d = this.difference(p, cells);
    if (d > 0) m.gaugeAdd(p + N_STALE, d);
    this.spec.reclaim?.(cells);
    this.u8.fill(0, cells, cells + this.exactCellBytes);
    m.gaugeSet(p + N_V0, 0);
    Atomics.store(i32, w + N_KEYLEN, 0);
    Atomics.store(i32, w + N_NEXT, 0);
    Atomics.store(i32, w + N_STATE, FREE);
    Atomics.add(i32, w + N_GEN, 1);
    const free = (this.familyData + (this.headOf(p) === LARGE_HEAD ? F_FREE_LARGE : F_FREE_SMALL)) >>> 3;
    for (;;) {
      const h = Atomics.load(this.i64, free);
      Atomics.store(i32, w + N_FREE, Number(h & 0xffffffffn) | 0);
      const tagged = BigInt.asIntN(64, (((h >> 32n) + 1n) << 32n) | BigInt(p));
      if (Atomics.compareExchange(this.i64, free, h, tagged) === h) return;
    }
  }
}
