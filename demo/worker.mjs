// One simulated worker: publishes the domain events of a stream of orders on its own bus;
// a handler runs each step against the flaky downstream through the shared breaker and
// reports the completion to the main thread's WorkerEventSubscriber. It monitors its own
// health, and one worker (told by workerData.stall) holds its event loop for a while.
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { CircuitOpenError, CompletionSender, InProcessEventBus, StatsRegistry, createDomainEvent } from 'atomic-stats';
import { BUS_NAME, STEP_PATTERN, THREAD_INTERVAL_MS, openShared, typeField } from './config.mjs';
import { callDownstream } from './downstream.mjs';

const { handle, completionPort, health, workerId, stall } = workerData;
const registry = StatsRegistry.attach(handle);
const { breaker, steps, byType, events, stepDuration } = openShared(registry);
// This thread's heap, event loop and heartbeat, in its slot of the registry's thread table.
registry.monitorThread({ name: workerId, intervalMs: THREAD_INTERVAL_MS });

// A synchronous task that holds the event loop: nothing of this thread runs meanwhile,
// its monitor's heartbeat included, which is how the main thread sees the stall.
let stalled = false;
const stallTimer =
  stall === undefined
    ? undefined
    : setTimeout(() => {
        stalled = true;
        const end = Date.now() + stall.forMs;
        while (Date.now() < end) {
          // resizing a very large image, say
        }
      }, stall.atMs);
const sender = new CompletionSender(completionPort);

// Handler failures are counted by the bus (rust_handler_errors) and shown by the main
// thread; a log line per failed payment would bury the live view.
const bus = new InProcessEventBus({ registry, name: BUS_NAME, logSubscriberErrors: false, logger: { warn() {} } });

// Per event type: the counter set's field and the labelled counter's series, each looked
// up once (a labelled child is cached per thread anyway; holding it skips the lookup).
const typeCounters = new Map();
const countType = (event) => {
  let c = typeCounters.get(event.event_name);
  if (c === undefined) {
    c = { field: byType.counter(typeField(event.event_name)), series: events.labels({ type: event.event_name }) };
    typeCounters.set(event.event_name, c);
  }
  c.field.inc();
  c.series.inc();
};

// The step-duration series of each step, looked up once.
const stepSeries = new Map();
const durationOf = (stepName) => {
  let s = stepSeries.get(stepName);
  if (s === undefined) stepSeries.set(stepName, (s = stepDuration.labels({ step: stepName })));
  return s;
};
bus.subscribe('*', countType);

// Each downstream call is bounded: one that has not answered in this time is a failure
// (CallTimeoutError, counted by the breaker like any downstream error) instead of a step
// that holds its place in the publish window forever. The downstream answers within a few
// milliseconds, so only a hung call reaches it.
const STEP_TIMEOUT_MS = 250;

let completionsSent = 0;
bus.subscribe(STEP_PATTERN, async (event) => {
  // Observed into the shared histogram when the step ends, whatever its outcome.
  const endTimer = durationOf(event.metadata.step_name).startTimer();
  let result = null;
  let failure;
  try {
    result = await breaker.call(() => callDownstream(health, event), { timeoutMs: STEP_TIMEOUT_MS });
  } catch (err) {
    failure = err;
  }
  const ms = Math.round(endTimer() * 1000);
  if (failure === undefined) steps.recordSuccess(ms);
  else steps.recordFailure();
  const open = failure instanceof CircuitOpenError;
  sender.send({
    event_id: event.event_id,
    task_uuid: event.metadata.task_uuid,
    step_uuid: event.metadata.step_uuid,
    success: failure === undefined,
    result,
    metadata: {
      execution_time_ms: ms,
      retryable: failure === undefined ? false : open || failure.retryable !== false,
      worker_id: workerId,
      step_name: event.metadata.step_name,
      // Lets the main thread tell fast rejections from downstream failures.
      reason: failure === undefined ? 'ok' : open ? 'circuit_open' : 'downstream_error',
    },
    error_message: failure === undefined ? null : open ? `circuit "${failure.breakerName}" is ${failure.state}` : failure.message,
  });
  completionsSent++;
  // Rethrown so the bus counts it as a handler error, as a real step handler's would be.
  if (failure !== undefined) throw failure;
});

const event = (name, task_uuid, step_name, payload) =>
  createDomainEvent({
    event_name: name,
    payload,
    metadata: {
      task_uuid,
      step_uuid: step_name === null ? null : randomUUID(),
      step_name,
      namespace: 'shop',
      fired_by: workerId,
    },
  });

// Publishes in flight (those whose handlers are still running). The window keeps the
// worker busy without letting unsettled steps pile up without bound.
const WINDOW = 256;
let inFlight = 0;
let published = 0;
let running = true;
let drained;

const settled = () => {
  inFlight--;
  if (running) pump();
  else if (inFlight === 0) drained?.();
};

function publish(e) {
  published++;
  const p = bus.publish(e);
  if (p !== undefined) {
    inFlight++;
    p.then(settled);
  }
}

function publishOrder() {
  const task = randomUUID();
  const amount = Math.round(Math.random() * 20_000) / 100;
  publish(event('order.placed', task, null, { amount, items: 1 + Math.floor(Math.random() * 5) }));
  if (Math.random() < 0.03) {
    publish(event('order.cancelled', task, null, { reason: 'customer' }));
    return;
  }
  publish(event('payment.requested', task, 'charge_payment', { amount, currency: 'EUR' }));
  // Digital goods need no shipment.
  if (Math.random() < 0.75) publish(event('shipment.requested', task, 'book_shipment', { carrier: 'demo-post' }));
}

// Orders are started in small batches from a fresh macrotask, so a long run of
// synchronous publishes (e.g. while the breaker fails fast) never starves the worker's
// message port, where the stop request arrives.
let scheduled = false;
function pump() {
  if (scheduled || !running) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    for (let i = 0; i < 32 && running && inFlight < WINDOW; i++) publishOrder();
    if (running && inFlight < WINDOW) pump();
  });
}

parentPort.on('message', (msg) => {
  if (msg?.type !== 'stop' || !running) return;
  running = false;
  clearTimeout(stallTimer);
  const finish = () => {
    // Flushes the last batch of completions before the port closes.
    sender.close();
    parentPort.postMessage({ type: 'done', workerId, published, completionsSent, stalled });
    // Nothing else is coming from the main thread; with the port unref'd, nothing keeps
    // this thread alive and it exits by itself.
    parentPort.removeAllListeners('message');
    parentPort.unref();
  };
  if (inFlight === 0) finish();
  else drained = finish;
});

pump();
