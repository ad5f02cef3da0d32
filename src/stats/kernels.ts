/*
 * The multi-cell record paths of the stats structs, one function per record method, in
 * two implementations over the same cells: the Wasm exports of assembly/stats.ts and
 * their pure-JS twins below. Each comes in an "owned" form (this thread's own stripe:
 * plain loads and stores, carry under the stripe's seqlock) and a "shared" form (64-bit
 * atomic adds); both take the same arguments, so a struct keeps one kernel object and
 * calls it without branching on its placement.
 *
 * Both implement the cell protocol of assembly/counters.ts exactly (the shared twins call
 * the same CellOps the counters use), so a JS thread and a Wasm thread can record into
 * one struct at the same time.
 */
import type { CellOps } from '../backend.js';
import type { StatsRegistry } from '../registry.js';
import { PUB_FFI, PUB_RUST, DONE_CONVERSION_ERROR, DONE_SUCCESS, DONE_UNMATCHED } from './fields.js';

export interface StatsKernels {
  stepSuccess(seq: number, cells: number, msLo: number, msHi: number): void;
  stepFailure(seq: number, cells: number): void;
  busRust(seq: number, cells: number, errLo: number, errHi: number): void;
  busPublish(seq: number, cells: number, flags: number, errors: number, lagged: number): void;
  busFfi(seq: number, cells: number, flags: number, lagged: number): void;
  subCompletion(seq: number, cells: number, flags: number): void;
}

/** The exports of assembly/stats.ts, read from the registry's core instance. */
interface StatsCoreExports {
  stepSuccessOwned: StatsKernels['stepSuccess'];
  stepSuccessShared: StatsKernels['stepSuccess'];
  stepFailureOwned: StatsKernels['stepFailure'];
  stepFailureShared: StatsKernels['stepFailure'];
  busRustOwned: StatsKernels['busRust'];
  busRustShared: StatsKernels['busRust'];
  busPublishOwned: StatsKernels['busPublish'];
  busPublishShared: StatsKernels['busPublish'];
  busFfiOwned: StatsKernels['busFfi'];
  busFfiShared: StatsKernels['busFfi'];
  subCompletionOwned: StatsKernels['subCompletion'];
  subCompletionShared: StatsKernels['subCompletion'];
}

// Cell offsets inside a struct, in bytes (field index * 8; see fields.ts).
const STEP_SUCCEEDED = 8;
const STEP_FAILED = 16;
const STEP_TIME = 24;
const BUS_RUST = 8;
const BUS_FFI = 16;
const BUS_ERRORS = 24;
const BUS_DROPS = 32;
const BUS_LAGGED = 40;
const SUB_SUCCEEDED = 8;
const SUB_FAILED = 16;
const SUB_CONVERSION = 24;
const SUB_UNMATCHED = 32;

const TWO32 = 4294967296;

/*
 * Owned-stripe twins. They follow the protocol of assembly/counters.ts and
 * src/backend-js.ts word for word (plain 32-bit load and store of the low half; a carry
 * publishes both halves under the stripe's sequence word with atomic stores) but touch
 * the Uint32Array directly: going through CellOps costs a few ns per cell that TurboFan
 * does not always inline away, and the whole point of an owned stripe is that a record
 * costs about as much as the plain stores themselves.
 */
class JsOwnedKernels implements StatsKernels {
  private readonly u32: Uint32Array;
  constructor(buffer: ArrayBufferLike) {
    this.u32 = new Uint32Array(buffer);
  }
  private inc(seq: number, cell: number): void {
    const i = cell >>> 2;
    const lo = this.u32[i]! + 1;
    if (lo < TWO32) this.u32[i] = lo;
    else this.carry(seq, i, 0, 1);
  }
  private add(seq: number, cell: number, lo: number, hi: number): void {
    const i = cell >>> 2;
    const sum = this.u32[i]! + lo;
    if (hi === 0 && sum < TWO32) this.u32[i] = sum;
    else this.carry(seq, i, sum >>> 0, hi + (sum >= TWO32 ? 1 : 0));
  }
  // Rare: the high half changes. Odd sequence, both halves, even sequence; all atomic
  // stores, so a reader that sees a new half also sees the odd sequence stored before it.
  private carry(seq: number, i: number, newLo: number, hiDelta: number): void {
    const u32 = this.u32;
    const s = seq >>> 2;
    const v = u32[s]!;
    Atomics.store(u32, s, v + 1);
    Atomics.store(u32, i, newLo);
    Atomics.store(u32, i + 1, (u32[i + 1]! + hiDelta) >>> 0);
    Atomics.store(u32, s, v + 2);
  }
  stepSuccess(seq: number, cells: number, msLo: number, msHi: number): void {
    this.inc(seq, cells);
    this.inc(seq, cells + STEP_SUCCEEDED);
    if (msLo !== 0 || msHi !== 0) this.add(seq, cells + STEP_TIME, msLo, msHi);
  }
  stepFailure(seq: number, cells: number): void {
    this.inc(seq, cells);
    this.inc(seq, cells + STEP_FAILED);
  }
  busRust(seq: number, cells: number, errLo: number, errHi: number): void {
    this.inc(seq, cells + BUS_RUST);
    if (errLo !== 0 || errHi !== 0) this.add(seq, cells + BUS_ERRORS, errLo, errHi);
  }
  busPublish(seq: number, cells: number, flags: number, errors: number, lagged: number): void {
    this.inc(seq, cells);
    if ((flags & PUB_RUST) !== 0) {
      this.inc(seq, cells + BUS_RUST);
      if (errors !== 0) this.add(seq, cells + BUS_ERRORS, errors, 0);
    }
    this.inc(seq, cells + ((flags & PUB_FFI) !== 0 ? BUS_FFI : BUS_DROPS));
    if (lagged !== 0) this.add(seq, cells + BUS_LAGGED, lagged, 0);
  }
  busFfi(seq: number, cells: number, flags: number, lagged: number): void {
    this.inc(seq, cells + ((flags & PUB_FFI) !== 0 ? BUS_FFI : BUS_DROPS));
    if (lagged !== 0) this.add(seq, cells + BUS_LAGGED, lagged, 0);
  }
  subCompletion(seq: number, cells: number, flags: number): void {
    this.inc(seq, cells);
    this.inc(seq, cells + ((flags & DONE_SUCCESS) !== 0 ? SUB_SUCCEEDED : SUB_FAILED));
    if ((flags & DONE_CONVERSION_ERROR) !== 0) this.inc(seq, cells + SUB_CONVERSION);
    if ((flags & DONE_UNMATCHED) !== 0) this.inc(seq, cells + SUB_UNMATCHED);
  }
}

class JsSharedKernels implements StatsKernels {
  constructor(private readonly o: CellOps) {}
  stepSuccess(_seq: number, cells: number, msLo: number, msHi: number): void {
    const o = this.o;
    o.sharedInc(cells);
    o.sharedInc(cells + STEP_SUCCEEDED);
    if (msLo !== 0 || msHi !== 0) o.sharedAdd(cells + STEP_TIME, msLo, msHi);
  }
  stepFailure(_seq: number, cells: number): void {
    this.o.sharedInc(cells);
    this.o.sharedInc(cells + STEP_FAILED);
  }
  busRust(_seq: number, cells: number, errLo: number, errHi: number): void {
    this.o.sharedInc(cells + BUS_RUST);
    if (errLo !== 0 || errHi !== 0) this.o.sharedAdd(cells + BUS_ERRORS, errLo, errHi);
  }
  busPublish(_seq: number, cells: number, flags: number, errors: number, lagged: number): void {
    const o = this.o;
    o.sharedInc(cells);
    if ((flags & PUB_RUST) !== 0) {
      o.sharedInc(cells + BUS_RUST);
      if (errors !== 0) o.sharedAdd(cells + BUS_ERRORS, errors, 0);
    }
    o.sharedInc(cells + ((flags & PUB_FFI) !== 0 ? BUS_FFI : BUS_DROPS));
    if (lagged !== 0) o.sharedAdd(cells + BUS_LAGGED, lagged, 0);
  }
  busFfi(_seq: number, cells: number, flags: number, lagged: number): void {
    this.o.sharedInc(cells + ((flags & PUB_FFI) !== 0 ? BUS_FFI : BUS_DROPS));
    if (lagged !== 0) this.o.sharedAdd(cells + BUS_LAGGED, lagged, 0);
  }
  subCompletion(_seq: number, cells: number, flags: number): void {
    const o = this.o;
    o.sharedInc(cells);
    o.sharedInc(cells + ((flags & DONE_SUCCESS) !== 0 ? SUB_SUCCEEDED : SUB_FAILED));
    if ((flags & DONE_CONVERSION_ERROR) !== 0) o.sharedInc(cells + SUB_CONVERSION);
    if ((flags & DONE_UNMATCHED) !== 0) o.sharedInc(cells + SUB_UNMATCHED);
  }
}

function wasmKernels(x: StatsCoreExports, owned: boolean): StatsKernels {
  // The export functions themselves, no JS wrapper: a record is one property load and
  // one call into Wasm.
  return owned
    ? {
        stepSuccess: x.stepSuccessOwned,
        stepFailure: x.stepFailureOwned,
        busRust: x.busRustOwned,
        busPublish: x.busPublishOwned,
        busFfi: x.busFfiOwned,
        subCompletion: x.subCompletionOwned,
      }
    : {
        stepSuccess: x.stepSuccessShared,
        stepFailure: x.stepFailureShared,
        busRust: x.busRustShared,
        busPublish: x.busPublishShared,
        busFfi: x.busFfiShared,
        subCompletion: x.subCompletionShared,
      };
}

const cache = new WeakMap<StatsRegistry, [shared: StatsKernels, owned: StatsKernels]>();

/** This thread's kernels on `registry`, for a struct written through an owned stripe or the shared cells. */
export function statsKernels(registry: StatsRegistry, owned: boolean): StatsKernels {
  let pair = cache.get(registry);
  if (pair === undefined) {
    if (registry.core !== undefined) {
      const x = registry.core as unknown as StatsCoreExports;
      if (typeof x.stepSuccessOwned !== 'function') {
        throw new Error('atomic-stats: the Wasm core of this registry has no stats exports (a core built before assembly/stats.ts)');
      }
      pair = [wasmKernels(x, false), wasmKernels(x, true)];
    } else {
      pair = [new JsSharedKernels(registry.ops), new JsOwnedKernels(registry.views.u8.buffer)];
    }
    cache.set(registry, pair);
  }
  return owned ? pair[1] : pair[0];
}
