import type { MessagePort } from 'node:worker_threads';
import { isMessagePort } from '../brand.js';
import { InvalidOptionsError } from '../errors.js';
import type { StepExecutionCompletionEvent } from './types.js';

/**
 * The producing end of a completion port (`WorkerEventSubscriber.createCompletionPort()`),
 * for a step handler in another worker thread. Completions sent in one synchronous run
 * of code travel as one message (flushed at the next microtask checkpoint), so a thread
 * reporting many completions pays for one postMessage per batch, not per completion.
 * They arrive as structured clones.
 */
export class CompletionSender {
  private batch: unknown[] = [];
  private scheduled = false;
  private closed = false;
  private readonly flushNow = (): void => this.flush();

  constructor(private readonly port: MessagePort) {
    // A brand check, not a duck test: a Proxy of a port would pass one and then throw from
    // postMessage in a microtask, where nothing catches it.
    if (!isMessagePort(port)) {
      throw new InvalidOptionsError('port', 'must be a MessagePort from WorkerEventSubscriber.createCompletionPort() (a Proxy of one is not accepted)');
    }
  }

  send(completion: StepExecutionCompletionEvent): void {
    if (this.closed) return;
    this.batch.push(completion);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Posts what is batched now rather than at the next microtask checkpoint. */
  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0 || this.closed) return;
    const b = this.batch;
    this.batch = [];
    this.port.postMessage(b);
  }

  /** Flushes, then closes the port. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.port.close();
  }
}
