// Fails the test during which atomic-stats emits a process warning nobody expected.
//
// A test that provokes a warning on purpose captures it with `captureWarnings()`
// (test/helpers/warnings.ts), which replaces process.emitWarning for the test and lets it
// assert on what was emitted: such warnings never reach the 'warning' event. Anything that
// does reach it, in this thread, or is printed by a worker thread (whose warnings go to its
// stderr, piped into this process's), is unexpected: the test that was running fails, or
// the file fails after its last test. `npx vitest run` therefore prints no warning of ours.
import { afterAll, afterEach } from 'vitest';

const unexpected: string[] = [];

process.on('warning', (w: Error & { code?: string }) => {
  if (w.name === 'AtomicStatsWarning' || w.message.startsWith('atomic-stats')) {
    unexpected.push(`${w.name}${w.code ? ` [${w.code}]` : ''}: ${w.message}`);
  }
});

// A worker thread's warning is printed to its stderr, which Node pipes into this
// process's stderr: watch what passes through for the lines Node prints for ours,
// `(node:PID) [CODE] AtomicStatsWarning: ...` or `(node:PID) Warning: atomic-stats: ...`.
const PRINTED = /\(node:\d+\) (?:\[[^\]]*\] )?(?:AtomicStatsWarning: |\w*Warning: atomic-stats)[^\n]*/g;
const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
  const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '';
  for (const m of text.matchAll(PRINTED)) unexpected.push(`printed: ${m[0]}`);
  return write(chunk, ...rest);
}) as typeof process.stderr.write;

// A warning is delivered on a later tick than the call that emits it, and a worker's
// output a little later still: let both arrive before judging a test.
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

function check(when: string): void {
  if (unexpected.length === 0) return;
  const found = unexpected.splice(0);
  throw new Error(`unexpected atomic-stats warning ${when} (capture expected ones with captureWarnings()):\n${found.join('\n')}`);
}

afterEach(async () => {
  await settle();
  check('during this test');
});

afterAll(async () => {
  await settle();
  check('after the last test of this file');
});
