import { onTestFinished, vi } from 'vitest';

export interface CapturedWarning {
  readonly message: string;
  readonly type: string | undefined;
  readonly code: string | undefined;
}

/**
 * Captures the process warnings emitted in this thread until the current test ends, in
 * place of printing them: for a test that provokes a warning on purpose and asserts on it.
 * Anything not captured fails the test (test/setup/warnings.ts).
 */
export function captureWarnings(): { readonly warnings: CapturedWarning[]; codes(): (string | undefined)[] } {
  const warnings: CapturedWarning[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error, o?: string | { type?: string; code?: string }, code?: string) => {
    const options = typeof o === 'object' && o !== null ? o : { type: o, code };
    warnings.push({ message: typeof w === 'string' ? w : w.message, type: options.type ?? (typeof w === 'string' ? undefined : w.name), code: options.code });
  }) as typeof process.emitWarning);
  onTestFinished(() => spy.mockRestore());
  return { warnings, codes: () => warnings.map((w) => w.code) };
}
