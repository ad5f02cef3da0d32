/*
 * Hints for a value passed where a handle was expected (StatsRegistry.attach,
 * BroadcastReceiver.fromHandle). The usual mistake is passing an object that holds the
 * handle (workerData, a message) instead of the handle: these find the key to pass. Used
 * on the error path only, after the value has been refused, so reading more of it here
 * cannot change what is attached.
 */

/**
 * The key of `value` (its `handle` property, or one of its first 32 own enumerable keys)
 * whose value is an object tagged `tag`, or undefined. A read that throws gives no hint.
 */
export function keyHolding(value: object, tag: string): string | undefined {
  try {
    const keys = ['handle', ...Object.keys(value).slice(0, 32)];
    for (const key of keys) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === tag) return key;
    }
  } catch {
    /* a getter or a Proxy trap threw: no hint */
  }
  return undefined;
}

/** What was thrown, for an error message: its name and message, or a description; never throws. */
export function thrownText(err: unknown): string {
  try {
    if (err instanceof Error) return `${String(err.name)}: ${String(err.message)}`;
    if (typeof err === 'string') return JSON.stringify(err);
    return typeof err;
  } catch {
    return 'an unreadable error';
  }
}
