import { CounterSet, type SetPlacement } from '../sets/counter-set.js';
import { bool, checkOptionsObject } from '../validate.js';
import { cellAddresses, setGeometry } from '../layout.js';
import type { Kind, RegistryCore } from '../registry-core.js';
import { checkName } from '../validate.js';
import type { StatsKernels } from '../ops/stats.js';

export interface StatsOptions {
  /**
   * Give every attached thread its own stripe of the struct (default true): a record
   * is then plain loads and stores on cells no other thread writes, instead of atomic
   * read-modify-writes on cells every thread fights over. Costs `stripes + 1` 128-byte
   * blocks. Every thread must open a name with the same striping (NameConflictError
   * otherwise).
   */
  striped?: boolean;
}


/** Where one thread records into a struct, and how it reads it back. */
export interface StatsPlacement<F extends string> {
  /** Kernel arguments for this thread's write target (ops/stats.ts: owned low/high words, or shared cells). */
  readonly a: number;
  readonly b: number;
  readonly kernels: StatsKernels;
  /** The shared cells and their kernels, for records whose count is OWNED_ADD_LIMIT or more. */
  readonly sharedA: number;
  readonly sharedKernels: StatsKernels;
  /** Reads (snapshots) and the single-field record methods go through the generic counters. */
  readonly set: CounterSet<F>;
  /**
   * The memory as 32-bit words when this thread owns a stripe of the struct, so that a hot
   * path can do the owned protocol's common case (a plain store of the tagged low word,
   * assembly/counters.ts) inline, whatever the backend: it is the same protocol the Wasm
   * core follows, and a call into Wasm (never inlined by V8) costs more than the store.
   * Undefined for a thread without a stripe (its updates are atomic adds).
   */
  readonly inlineWords: Int32Array | undefined;
}

function checkStatsOptions(options: unknown, extraKeys: readonly string[] = []): boolean {
  return bool(checkOptionsObject(options, ['striped', ...extraKeys], 'options'), 'striped', true);
}

/**
 * Get-or-create of a stats struct: a registry entry of `kind` whose data is a counter set
 * of `fields` (so the generic readers, exporters and `entries()` understand it), with
 * this thread's record kernels bound to its stripe.
 */
export function openStats<F extends string, T>(
  registry: RegistryCore,
  kind: Kind,
  name: string,
  fields: readonly F[],
  options: StatsOptions | undefined,
  build: (p: StatsPlacement<F>) => T,
  /** More option keys a struct accepts, checked by `extra`, which returns what they add to the signature. */
  extra?: { keys: readonly string[]; check(o: Record<string, unknown>): Record<string, unknown> },
): T {
  checkName(name);
  const striped = checkStatsOptions(options, extra?.keys);
  const added = extra === undefined || options === undefined ? {} : extra.check(options as Record<string, unknown>);
  const geometry = setGeometry(fields.length, striped, registry.stripes);
  return registry.openEntry(name, kind, { fields: [...fields], striped, ...added }, geometry.dataBytes, (dataOffset) => {
    const placement: SetPlacement = { setName: name, dataOffset, geometry, ownedStripe: registry.ownedStripe(striped) };
    const stripe = placement.ownedStripe;
    const first = cellAddresses(geometry, dataOffset, 0, stripe < 0 ? 0 : stripe);
    const { owned, shared } = registry.ops.stats;
    return build({
      a: stripe < 0 ? first.shared : first.low,
      b: stripe < 0 ? 0 : first.high,
      kernels: stripe < 0 ? shared : owned,
      sharedA: first.shared,
      sharedKernels: shared,
      set: new CounterSet<F>(registry.ops.cells, placement, fields),
      inlineWords: stripe >= 0 ? registry.views.i32 : undefined,
    });
  });
}
