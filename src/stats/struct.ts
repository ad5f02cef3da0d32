/*
 * What the three stats structs share: where this thread's records go, and how they move
 * to the shared cells for good.
 *
 * A record method is one call into the backend (ops/stats.ts) with two addresses, `a` and
 * `b`, and a kernel object `k`. For a thread that owns a stripe of the struct they are its
 * stripe's first low word, first high word and the owned kernels (plain stores, one
 * writer); for any other thread, the first shared cell, 0 and the shared kernels (atomic
 * adds). The struct holds the three in fields of its own rather than behind a branch on
 * its placement, so a record is the same two loads and a call whichever it is.
 *
 * The shared cell and kernels are kept beside them for the two cases that must not touch
 * the owned stripe: a count too large for an owned update (OWNED_ADD_LIMIT, 2^30: a
 * larger step of the high word would let a reader misplace the low word, see
 * assembly/counters.ts) goes to the shared cells and changes nothing in the totals; and
 * once the registry object the struct was opened through hands its stripe back
 * (RegistryCore.releaseStripe calls retireStripe() first), every record goes there,
 * because the next holder of the stripe writes it with plain stores of its own and two
 * plain writers would lose counts. `a`, `b` and `k` are rewritten by the struct's own
 * thread, the only one that records through this object, so that needs no ordering.
 */
import type { StatsKernels } from '../ops/stats.js';
import type { CounterSet } from '../sets/counter-set.js';
import type { StatsPlacement } from './open.js';

/** The common head of StepExecutionStats, EventBusStats and WorkerSubscriberStats. */
export abstract class StatsStruct<F extends string> {
  /** The struct's name in the registry. */
  readonly name: string;
  /** @internal This thread's write target: kernel arguments and kernels (see above). */
  protected a: number;
  /** @internal */
  protected b: number;
  /** @internal */
  protected k: StatsKernels;
  /** @internal The shared cells' kernel argument and kernels. */
  protected readonly sharedA: number;
  /** @internal */
  protected readonly sharedK: StatsKernels;
  /** @internal The struct's counters: reads, and the records that touch one field. */
  protected readonly set: CounterSet<F>;

  /** @internal */
  protected constructor(name: string, p: StatsPlacement<F>) {
    this.name = name;
    this.a = p.a;
    this.b = p.b;
    this.k = p.kernels;
    this.sharedA = p.sharedA;
    this.sharedK = p.sharedKernels;
    this.set = p.set;
  }

  /**
   * @internal Records go to the shared cells from now on: the registry object this was
   * opened through is handing its stripe back (RegistryCore.releaseStripe).
   */
  retireStripe(): void {
    this.a = this.sharedA;
    this.b = 0;
    this.k = this.sharedK;
    this.set.retireStripe();
  }
}
