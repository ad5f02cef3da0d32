// Stops a call at a chosen write to shared memory, as worker.terminate() can: V8 acts on a
// termination request on the way into a builtin such as an Atomics call (directory.ts).

const WRITES = ['add', 'and', 'compareExchange', 'exchange', 'or', 'store', 'sub', 'xor'] as const;

export class Stopped extends Error {}

/**
 * Runs `call` with every Atomics write counted and throws Stopped on the way into the
 * `n`-th (1-based), before it writes: the caller stops right there, as a terminated
 * thread does. Unlike a termination, the throw runs `finally` blocks on its way out.
 * Returns whether the call was stopped (false: it made fewer than `n` writes).
 */
export function stopAtWrite(n: number, call: () => unknown): boolean {
  const saved = WRITES.map((k) => [k, Atomics[k]] as const);
  let count = 0;
  for (const [k, f] of saved) {
    (Atomics as unknown as Record<string, unknown>)[k] = (...args: unknown[]) => {
      if (++count === n) throw new Stopped(`stopped before Atomics write ${n} (${k})`);
      return (f as (...a: unknown[]) => unknown)(...args);
    };
  }
  try {
    call();
    return false;
  } catch (e) {
    if (e instanceof Stopped) return true;
    throw e;
  } finally {
    for (const [k, f] of saved) (Atomics as unknown as Record<string, unknown>)[k] = f;
  }
}
