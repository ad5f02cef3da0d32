// Command-line flags of the demo. parseArgs is strict, so an unknown flag or a missing
// value is an error rather than silently ignored.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

export const MAX_WORKERS = 64;
const MAX_DURATION_S = 86_400;

export const USAGE = `usage: npm start -- [options]      (or: node demo/main.mjs [options])

Runs a simulated workload on worker threads sharing one atomic-stats registry: domain
events on per-worker event buses, a flaky downstream behind one shared circuit breaker,
step completions reported to a WorkerEventSubscriber in the main thread. Every thread's
heap, event loop and heartbeat are shown live; one worker stalls its event loop for a
while, and the main thread sees it. Serves Prometheus metrics on 127.0.0.1 from a thread
of its own while it runs, then prints a summary.

options:
  --duration SECONDS   how long to run; fractions allowed (default 10)
  --workers N          worker threads, 1..${MAX_WORKERS} (default: one per core, ${availableParallelism()} here)
  --port N             port of the /metrics server on 127.0.0.1 (default 0: a free one)
  -h, --help           print this help
`;

export class UsageError extends Error {}

const number = (flag, text, { integer, min, max }) => {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${text}"`);
  }
  return v;
};

/** The options, or { help: true }; throws UsageError for bad flags. */
export function parseDemoArgs(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: 'string' },
        workers: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err.message);
  }
  if (values.help) return { help: true };
  const duration = values.duration === undefined ? 10 : number('--duration', values.duration, { integer: false, min: 0, max: MAX_DURATION_S });
  if (duration === 0) throw new UsageError('--duration must be greater than 0');
  return {
    help: false,
    durationMs: Math.max(1, Math.round(duration * 1000)),
    workers: values.workers === undefined ? Math.min(availableParallelism(), MAX_WORKERS) : number('--workers', values.workers, { integer: true, min: 1, max: MAX_WORKERS }),
    port: values.port === undefined ? 0 : number('--port', values.port, { integer: true, min: 0, max: 65535 }),
  };
}
