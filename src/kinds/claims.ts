/*
 * The cardinality bound of a labelled family: claims on its count word, each made under a
 * ticket that names the claiming thread, so that a claim whose thread was terminated in
 * the middle of a create is given back without that thread's help.
 *
 * The count word (an i32, the first word of the family's data) holds two fields:
 *   bits 0..19   claims: series that exist, plus claims in flight (maxSeries is at most
 *                1,000,000 < 2^20, so a claim never carries into the tickets)
 *   bits 20..31  one bit per ticket: bit 20 + k is set while ticket k's claim is in flight
 * and the family's data has TICKETS ticket entries (series-table.ts places them), two
 * words each: the thread that holds the ticket (threadId + 1; 0 free; negated once that
 * thread is known to have stopped with its claim in flight: an orphan) and the node its
 * create allocated (0 until then).
 *
 * A create: reserve a free ticket k (CAS of its owner from 0 to this thread; then its
 * node word is cleared), then claim with ONE CAS on the count word that adds 1 to the
 * claims and sets bit k, refusing to take the first claim past maxSeries. The table
 * allocates the node and stores it in the ticket before it links the node into a list
 * (publication); from then on the node carries the unit (removing it, for whatever
 * reason, gives the unit back: 1 from the claims). The creator then ends the claim: ONE
 * atomic subtraction that clears bit k (and takes the unit back if the create failed),
 * then it frees the ticket. So at every instant, claims = series that exist + tickets
 * whose bit is set, and with no bit set, claims is exactly the number of series.
 *
 * Why no unit is lost or doubled when the creator is terminated between any two steps.
 * The claim and the setting of bit k are one CAS, and so are the end of the claim and the
 * clearing of bit k: a ticket's bit says exactly whether its thread holds a claim in
 * flight, whatever instant the thread stopped at. What a bit cannot say is whether the
 * node was published, and that is read from the node itself: the dead creator still
 * holds its reference on the node (never released), so the node is never reclaimed, and
 * it was published if and only if it is reachable from its bucket or marked (a node is
 * only ever marked once linked; an unpublished one is never linked or marked by anyone,
 * because its only writer is dead). Both facts are stable once the creator is dead, so
 * every thread that settles the orphan decides the same way:
 *   - bit k clear: no claim in flight (never made, or already ended): the ticket is
 *     simply freed;
 *   - bit k set, node published: the unit rides on the node: clear bit k only. If the
 *     node lost a creation race (an older node has its labels) and its creator died
 *     before removing it, it is removed now, which gives its unit back as any removal;
 *   - bit k set, node not published (or none allocated yet): clear bit k and take the
 *     claim back; the node, if any, is marked abandoned so that no scrape shows it.
 * Bit k is cleared by one CAS that expects it set, so of all the threads that settle the
 * same orphan, exactly one adjusts the word; the ticket is freed after that (a settler
 * terminated in between leaves an orphan with a clear bit, which the next one frees).
 *
 * Who learns that a thread stopped. The thread that created a worker sees its 'exit'
 * event, after the worker has stopped (slots.ts, rule 3, the hook the stripes use): it
 * scans the labelled families of the registries it knows, frees the stopped thread's
 * reserved tickets, turns those with a claim in flight into orphans and wakes waiters.
 * That thread may not hold the family's metric object (nor its kind's geometry, which a
 * node walk needs), so the orphan is settled by any thread that does, at its next slow
 * path of that metric (a new label set, a read, a scrape, remove, reset: quiesce()), or
 * by a create that waits on the word, which the scan wakes. Until then the claim stays
 * in flight, which costs nothing but a create at the limit waiting (below).
 *
 * Exact refusals. Two threads creating the same series both claim, and one hands back.
 * Between the two, claims is one more than the series there will be, and a thread that
 * wants one more series just then would see the family full although its series fits.
 * So a full count refuses only when no bit is set: one load then shows claims = series =
 * maxSeries at one instant. With claims in flight the thread waits on the word
 * (Atomics.wait, which Node allows on its main thread too; every end of a claim
 * notifies) and reads again. A waiting thread may hold a reserved ticket but never a
 * claim in flight, and a claim in flight never waits for anything, so waits cannot form
 * a cycle.
 *
 * The bound. A wait ends after CLAIM_WAIT_MS whatever happens, and the create is then
 * refused; the word seen then is remembered per metric object, and a refusal that finds
 * the word exactly as it was refuses at once. This covers what no hook sees: a claimer
 * terminated where no thread proves it stopped (its creator holds no registry object on
 * the memory, or the runtime is Deno, whose 'exit' comes before the thread stops), and a
 * live claimer descheduled for longer than the bound. There are TICKETS tickets: a
 * thirteenth create in flight at once on one family waits for a ticket (each end of a
 * claim notifies), within the same bound. Twelve tickets held for good by stopped
 * threads that no hook saw would leave the family refusing every new series: on Deno, a
 * family whose creators are terminated in the middle of a create twelve times.
 */
import { threadId } from 'node:worker_threads';

/** Bits of the claims field of the count word. */
export const COUNT_BITS = 20;
export const COUNT_MASK = (1 << COUNT_BITS) - 1;
/** Tickets of a family: one bit each in the count word above the claims. */
export const TICKETS = 32 - COUNT_BITS;
/** Bytes of one ticket entry: owner, node. */
export const TICKET_BYTES = 8;
/** Longest a create waits for claims in flight (or for a ticket) before it is refused. */
export const CLAIM_WAIT_MS = 100;

const SELF = threadId + 1;

/** How a ticket's node is settled: true when it was published (its unit rides on it). */
export interface OrphanNodes {
  /** Whether `node`, read from the memory, is a node of this family. */
  knows(node: number): boolean;
  /** Settles the node of a stopped creator: see the essay. True when it was published. */
  settleAbandoned(node: number): boolean;
}

const bitOf = (k: number): number => 1 << (COUNT_BITS + k);

/** One thread's handle on a family's count word and tickets. */
export class Claims {
  // The count word a wait last timed out on (see the essay), or 0.
  private stalled = 0;

  constructor(
    private readonly i32: Int32Array,
    /** i32 index of the count word. */
    readonly countIndex: number,
    // i32 index of ticket 0's owner word.
    private readonly ticket0: number,
    private readonly maxSeries: number,
  ) {}

  /** Series that exist now, plus claims in flight. */
  claims(): number {
    return Atomics.load(this.i32, this.countIndex) & COUNT_MASK;
  }

  /** Whether some claim is in flight now. */
  inFlight(): boolean {
    return Atomics.load(this.i32, this.countIndex) >>> COUNT_BITS !== 0;
  }

  /**
   * Claims a unit for a new series: its ticket (give it to nodeOf, then end), or -1 when
   * the family is full with nothing in flight, or the wait ran out (see the essay).
   */
  take(nodes: OrphanNodes): number {
    const i32 = this.i32;
    let k = -1;
    let deadline = -1;
    for (;;) {
      if (k < 0) k = this.reserve();
      const w = Atomics.load(i32, this.countIndex);
      const claims = w & COUNT_MASK;
      if (k >= 0 && claims < this.maxSeries) {
        if (Atomics.compareExchange(i32, this.countIndex, w, (w + 1 + bitOf(k)) | 0) === w) return k;
        continue;
      }
      if (claims >= this.maxSeries && w >>> COUNT_BITS === 0) {
        this.free(k);
        return -1;
      }
      // Claims in flight (or no ticket free): orphans first, then a bounded wait.
      if (this.settleOrphans(nodes)) continue;
      if (w === this.stalled) {
        this.free(k);
        return -1;
      }
      const now = performance.now();
      if (deadline < 0) deadline = now + CLAIM_WAIT_MS;
      else if (now >= deadline) {
        this.stalled = w;
        this.free(k);
        return -1;
      }
      Atomics.wait(i32, this.countIndex, w, deadline - now);
    }
  }

  /** Records the node the claim of ticket `k` allocated, before the node is published. */
  nodeOf(k: number, node: number): void {
    Atomics.store(this.i32, this.ticket0 + 2 * k + 1, node);
  }

  /** Ends the claim of ticket `k`: its unit rides on a node now (`kept`), or goes back. Wakes any waiter. */
  end(k: number, kept: boolean): void {
    const i32 = this.i32;
    // One subtraction clears bit k (set: no borrow) and, unless kept, takes the unit back.
    Atomics.sub(i32, this.countIndex, (bitOf(k) + (kept ? 0 : 1)) | 0);
    this.free(k);
    Atomics.notify(i32, this.countIndex);
  }

  /** Settles every orphaned ticket (see the essay); true if there was one. */
  settleOrphans(nodes: OrphanNodes): boolean {
    const i32 = this.i32;
    let any = false;
    for (let k = 0; k < TICKETS; k++) {
      const at = this.ticket0 + 2 * k;
      const owner = Atomics.load(i32, at);
      if (owner >= 0) continue;
      any = true;
      const node = Atomics.load(i32, at + 1);
      const kept = node !== 0 && nodes.knows(node) && nodes.settleAbandoned(node);
      const bit = bitOf(k);
      for (;;) {
        const w = Atomics.load(i32, this.countIndex);
        if ((w & bit) === 0) break;
        if (Atomics.compareExchange(i32, this.countIndex, w, (w - bit - (kept ? 0 : 1)) | 0) === w) break;
      }
      Atomics.compareExchange(i32, at, owner, 0);
    }
    if (any) Atomics.notify(i32, this.countIndex);
    return any;
  }

  private reserve(): number {
    const i32 = this.i32;
    for (let k = 0; k < TICKETS; k++) {
      const at = this.ticket0 + 2 * k;
      if (Atomics.load(i32, at) === 0 && Atomics.compareExchange(i32, at, 0, SELF) === 0) {
        Atomics.store(i32, at + 1, 0);
        return k;
      }
    }
    return -1;
  }

  private free(k: number): void {
    if (k >= 0) Atomics.store(this.i32, this.ticket0 + 2 * k, 0);
  }
}

/**
 * For a thread that has stopped (its Worker's 'exit' event fired): frees the tickets it
 * reserved on the family whose count word is `countIndex`, and turns those with a claim
 * in flight into orphans, for a thread with the metric open to settle. Wakes waiters.
 */
export function reapTickets(i32: Int32Array, countIndex: number, ticket0: number, id: number): void {
  const dead = id + 1;
  let any = false;
  for (let k = 0; k < TICKETS; k++) {
    const at = ticket0 + 2 * k;
    if (Atomics.load(i32, at) !== dead) continue;
    any = true;
    if ((Atomics.load(i32, countIndex) & bitOf(k)) === 0) Atomics.compareExchange(i32, at, dead, 0);
    else Atomics.compareExchange(i32, at, dead, -dead);
  }
  if (any) Atomics.notify(i32, countIndex);
}
