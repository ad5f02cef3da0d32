/*
 * Who owns which stripe: the stripe-slot table, and the per-thread hooks that hand a
 * stripe back when the thread that held it is gone.
 *
 * Why it matters. An owned stripe is written with plain stores (assembly/counters.ts),
 * which is only correct while it has exactly one writer. So the rule this file keeps is:
 * a stripe is never handed to a second thread while the first one can still write it.
 * Everything else (which thread releases, when) follows from that rule.
 *
 * The table (layout.ts: H_SLOT_TABLE, H_SLOT_COUNT) has one entry per owned stripe, of
 * SLOT_ENTRY_WORDS i32 words:
 *   word 0  owner: 0 free; threadId + 1 held by that thread; -(threadId + 1) while that
 *           thread is claiming it (writing words 1..3)
 *   1..3    the owner's nearest ancestor threads (threadId + 1, nearest first, 0 = none;
 *           the main thread is never listed: when it is gone, so is the process)
 *
 * Claim: CAS word 0 from 0 to -(self + 1), store the ancestors, store self + 1. The
 * lowest free entry wins, so a registry's creator gets stripe 0 and attachments in one
 * thread get 0, 1, 2... as before. Every table access is a seq-cst Atomics operation. When
 * the owner releases, its last plain stores to the stripe precede its release CAS in its
 * own program order; when the creator releases, they precede the worker's thread exit,
 * which Node joins before it emits 'exit' (a join orders everything the thread did before
 * whatever follows it). Either way they happen-before the release CAS, which the new
 * owner's claim CAS reads: the new owner starts from the cells exactly as the old one
 * left them (counts intact), and continues the plain stores on them.
 * (A previous owner terminated in the middle of a carry left a low word whose tag is up
 * to 64 behind its high word; the carry in assembly/counters.ts computes from the low
 * word's tag, not from the stored high, so the new owner continues that cell exactly.)
 *
 * Release, by whoever can prove the owner will not write again:
 *   1. the owner itself, in `registry.close()` / `[Symbol.dispose]()`, after switching
 *      every handle opened through that registry object to the shared stripe;
 *   2. the owner's thread as it exits normally (`process.on('exit')`), the same way;
 *   3. the thread that created the owner's thread, on that Worker's 'exit' event: Node
 *      (and Bun) emit it after the worker has stopped, so even a terminated worker (whose
 *      own 'exit' listeners never run) can write nothing more. It releases every entry
 *      owned by that threadId, being claimed by it, or listing it as an ancestor: Node
 *      stops a worker's own workers before the worker itself has stopped, so descendants
 *      are stopped too (this covers a pool inside a worker that is terminated wholesale).
 *      Not on Deno (`creatorReleases`): there `terminate()` emits 'exit' at once, while
 *      the thread runs on (a synchronous loop is not interrupted; measured for seconds),
 *      and the worker's own workers are not stopped at all. Releasing on that event
 *      handed a running writer's stripe to a new holder, and counts were lost. Deno has
 *      no event that proves a terminated worker stopped, so there only 1 and 2 release,
 *      and a terminated worker keeps its stripe (the worst case below).
 *      The same event hands back the claims a stopped thread held in flight on labelled
 *      families (kinds/claims.ts).
 * Releases are CAS(owner -> 0) on the exact value read, so they are idempotent and two
 * releasers cannot free a slot twice. threadIds are never reused within a process, so a
 * stale release (a creator seeing an old worker exit) can never match a newer owner: no
 * generation counter is needed against ABA. Ancestors are read after word 0 and the CAS
 * expects the word 0 that was read; a claimer publishes its ancestors before its threadId,
 * so a releaser never pairs one owner with another owner's ancestors.
 *
 * Who knows which memories: each thread remembers (weakly) the tables of the registries
 * it created or attached, and its Worker-exit hook scans those. On Deno, where the
 * owner's own exit hook is the only one that hands a stripe back, a worker thread holds
 * its registry objects that own a stripe strongly until they are closed (at most
 * `stripes` per memory): held weakly, one the application dropped after opening its
 * handles was collected, and its stripe stayed claimed after the thread ended. Hooks
 * are installed once per thread (and per copy of the package) when this module loads, so
 * workers created before the first registry are seen too. Ancestors come from Node's environment data
 * (worker_threads.setEnvironmentData), which every new Worker inherits from its creator.
 *
 * The worst case: a worker is terminated and no live thread can prove it stopped. Its
 * creator never loaded this package, or holds no registry object on that memory any
 * more, or is itself gone and no watching thread saw an ancestor within SLOT_ANCESTORS
 * generations end; or the runtime is Deno. Its stripe then stays taken for the life of
 * the registry; later attachments still count exactly, on the shared stripe.
 */
import { getEnvironmentData, isMainThread, setEnvironmentData, threadId } from 'node:worker_threads';
import { SLOT_ANCESTORS, SLOT_ENTRY_WORDS } from './layout.js';

const ENV_KEY = 'atomic-stats:ancestors';

/** This thread's ancestors (threadIds, nearest first, main thread excluded), from the environment data its creator left. */
function readAncestors(): number[] {
  let v: unknown;
  try {
    v = getEnvironmentData(ENV_KEY);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const list = v.filter((x): x is number => Number.isInteger(x) && x > 0).slice(0, SLOT_ANCESTORS + 1);
  // Another copy of this package (ESM and CJS) in this thread may have set it already.
  return list[0] === threadId ? list.slice(1, SLOT_ANCESTORS + 1) : list.slice(0, SLOT_ANCESTORS);
}

const ancestors: readonly number[] = isMainThread ? [] : readAncestors();

/**
 * Whether a Worker's 'exit' event proves that the worker and its own workers have stopped,
 * so that its creator may release their stripes (rule 3 above): in Node and Bun, not in
 * Deno, whose `terminate()` emits it before the thread has stopped.
 */
export const creatorReleases = typeof process === 'undefined' || typeof process.versions?.deno !== 'string';

/** A view of one registry's slot table, as this thread knows it. */
export interface SlotTable {
  readonly i32: Int32Array;
  /** Index of the first word of the table. */
  readonly word: number;
  readonly count: number;
}

/** Claims the lowest free entry for this thread; its index, or -1 when every stripe is held. */
export function claimSlot(t: SlotTable): number {
  const self = threadId + 1;
  for (let i = 0; i < t.count; i++) {
    const w = t.word + i * SLOT_ENTRY_WORDS;
    if (Atomics.load(t.i32, w) !== 0 || Atomics.compareExchange(t.i32, w, 0, -self) !== 0) continue;
    for (let k = 0; k < SLOT_ANCESTORS; k++) Atomics.store(t.i32, w + 1 + k, k < ancestors.length ? ancestors[k]! + 1 : 0);
    Atomics.store(t.i32, w, self);
    return i;
  }
  return -1;
}

/** Gives back entry `index`, held by this thread. */
export function releaseSlot(t: SlotTable, index: number): void {
  const self = threadId + 1;
  Atomics.compareExchange(t.i32, t.word + index * SLOT_ENTRY_WORDS, self, 0);
}

/**
 * Frees every entry held or being claimed by thread `id`, or held by one of its
 * descendants. Only for a thread that has stopped (its Worker's 'exit' event fired).
 */
export function releaseThread(t: SlotTable, id: number): number {
  const dead = id + 1;
  let released = 0;
  for (let i = 0; i < t.count; i++) {
    const w = t.word + i * SLOT_ENTRY_WORDS;
    const owner = Atomics.load(t.i32, w);
    let match = owner === dead || owner === -dead;
    for (let k = 0; !match && owner > 0 && k < SLOT_ANCESTORS; k++) match = Atomics.load(t.i32, w + 1 + k) === dead;
    if (match && Atomics.compareExchange(t.i32, w, owner, 0) === owner) released++;
  }
  return released;
}

/** The threadId holding entry `index` now, or -1 when it is free or being claimed. */
export function slotHolder(t: SlotTable, index: number): number {
  const owner = Atomics.load(t.i32, t.word + index * SLOT_ENTRY_WORDS);
  return owner > 0 ? owner - 1 : -1;
}

/** Entries held (or being claimed) now. */
export function slotsInUse(t: SlotTable): number {
  let n = 0;
  for (let i = 0; i < t.count; i++) if (Atomics.load(t.i32, t.word + i * SLOT_ENTRY_WORDS) !== 0) n++;
  return n;
}

// ---- per-thread hooks ----------------------------------------------------------------

/** What the hooks need of a registry object: its table, and a way to hand its stripe back. */
export interface SlotHolder {
  readonly table: SlotTable;
  /** Switches every handle to the shared stripe and releases the slot (idempotent). */
  releaseStripe(): void;
  /** Hands back what else thread `id`, now stopped, held in this memory (claims in flight: kinds/claims.ts). */
  threadEnded?(id: number): void;
}

const holders = new Set<WeakRef<SlotHolder>>();
// Stripe owners this thread's exit hook must find even if the application dropped them (see the header).
const kept = new Set<SlotHolder>();
let holdersAfterPrune = 0;
let installed = false;

/** Remembers a registry object of this thread for the hooks (weakly, unless it must be kept: see the header). */
export function watch(holder: SlotHolder, ownsStripe: boolean): WeakRef<SlotHolder> {
  installHooks();
  const ref = new WeakRef(holder);
  holders.add(ref);
  if (ownsStripe && !creatorReleases && !isMainThread) kept.add(holder);
  // Drop the collected ones now and then, so a thread that makes many registry objects
  // (and never sees a worker exit) does not keep an ever-growing set.
  if (holders.size > 2 * holdersAfterPrune + 64) holdersAfterPrune = live().length;
  return ref;
}

export function unwatch(ref: WeakRef<SlotHolder>): void {
  const holder = ref.deref();
  if (holder !== undefined) kept.delete(holder);
  holders.delete(ref);
}

function live(): SlotHolder[] {
  const out: SlotHolder[] = [];
  for (const ref of holders) {
    const h = ref.deref();
    if (h === undefined) holders.delete(ref);
    else out.push(h);
  }
  return out;
}

function onWorkerExit(id: number): void {
  // Several registry objects may share a memory: scanning one table twice is harmless.
  for (const h of live()) {
    releaseThread(h.table, id);
    h.threadEnded?.(id);
  }
}

export function installHooks(): void {
  if (installed || typeof process === 'undefined' || typeof process.on !== 'function') return;
  installed = true;
  if (!isMainThread) {
    // Workers created by this thread inherit this thread as their nearest ancestor.
    try {
      setEnvironmentData(ENV_KEY, [threadId, ...ancestors].slice(0, SLOT_ANCESTORS + 1));
    } catch {
      // Not fatal: descendants then name fewer ancestors, which can only lose a slot.
    }
    // A normal exit: hand this thread's stripes back now rather than when (and if) the
    // creator's hook sees the exit. Handles are switched to the shared stripe first, so
    // any 'exit' listener that still records after this one counts exactly.
    process.on('exit', () => {
      for (const h of live()) h.releaseStripe();
    });
  }
  if (!creatorReleases) return;
  // threadId is read now: a Worker's threadId reads -1 once it has exited.
  process.on('worker', (worker: { threadId: number; once(event: 'exit', listener: () => void): unknown }) => {
    const id = worker.threadId;
    worker.once('exit', () => onWorkerExit(id));
  });
}

// Watch for workers from the moment the package is loaded, so a pool created before the
// first registry is seen too.
installHooks();
