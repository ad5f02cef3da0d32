// What the main thread and every pool thread agree on. A metric is the same metric in every
// thread only with the same definition, so both sides import it from here.
export const JOBS = {
  name: 'jobs_total',
  help: 'Jobs finished by the pool, by outcome.',
  labelNames: ['outcome'],
  // Each thread counts on a stripe of its own: no contention between the pool's threads.
  striped: true,
};
export const JOBS_STARTED = { name: 'jobs_started_total', help: 'Jobs the pool started.', striped: true };
export const DOWNSTREAM_CALLS = { name: 'inventory_requests_total', help: 'Requests that reached the inventory service.', striped: true };

export const BREAKER = 'inventory';
// Opens after 5 failures in a row; stays open for a minute (longer than this example runs).
export const BREAKER_CONFIG = { failureThreshold: 5, timeoutMs: 60_000 };
// How long a job waits for the inventory service before the call counts as failed.
export const CALL_TIMEOUT_MS = 50;
