/*
 * What the built-in kinds' collectors share to name and convert their families: a row per
 * exported family of a fixed-field entry, and the conversion of a stored count into the
 * exported value (export/collect.ts has the naming rules). The collector interface itself
 * is the kind descriptor's (kind.ts); each kind's collector lives with the kind.
 */

/** @internal How a stored count becomes an exported value: as it is, or ms / ns to seconds. */
export type Conv = 'count' | 'ms' | 'ns';

/** @internal One exported family of a fixed-field entry, and the field it reads. */
export interface Row {
  /** Family name after the prefix. */
  readonly name: string;
  readonly help: string;
  readonly unit: string;
  /** Index of the source field in the entry's field list, and the label it adds. */
  readonly field: number;
  readonly conv: Conv;
  readonly outcome?: string;
}

/** @internal Counts stay exact bigints; durations become seconds (doubles, see collect.ts). */
export const convert = (v: bigint, conv: Conv): bigint | number => (conv === 'count' ? v : conv === 'ms' ? Number(v) / 1e3 : Number(v) / 1e9);
