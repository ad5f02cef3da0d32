import { InvalidCountError } from './errors.js';

export const TWO32 = 4294967296;
export const MAX_U64 = (1n << 64n) - 1n;

/**
 * Throws unless `n` is a safe non-negative integer (0 <= n <= 2^53 - 1), the range a
 * JS number holds exactly. The caller has already taken the common fast path
 * (a number with `(n >>> 0) === n`: an integer below 2^32), so this is the slow path and the error path.
 */
export function checkCount(n: unknown): asserts n is number {
  if (typeof n !== 'number') throw new InvalidCountError(n, 'not a number');
  if (Number.isNaN(n)) throw new InvalidCountError(n, 'NaN');
  if (!Number.isFinite(n)) throw new InvalidCountError(n, 'not finite');
  if (!Number.isInteger(n)) throw new InvalidCountError(n, 'not an integer');
  if (n < 0) throw new InvalidCountError(n, 'negative');
  if (n > Number.MAX_SAFE_INTEGER) throw new InvalidCountError(n, 'above Number.MAX_SAFE_INTEGER (2^53 - 1); use addBigInt');
}

export function checkBigCount(n: unknown): asserts n is bigint {
  if (typeof n !== 'bigint') throw new InvalidCountError(n, 'not a bigint');
  if (n < 0n) throw new InvalidCountError(n, 'negative');
  if (n > MAX_U64) throw new InvalidCountError(n, 'above 2^64 - 1');
}

/** High u32 half of a safe integer; the low half is `n - hi * 2^32`. */
export function highWord(n: number): number {
  return Math.floor(n / TWO32);
}
