import { ReceiverClosedError } from './errors.js';
import { type BroadcastReceiverHandle, RemoteChannel, type ReceiverChannel } from './broadcast.js';
import { checkReceiverHandle } from './receiver-handle.js';
import type { DomainEvent } from './domain-event.js';

// A receiver dropped without close() would otherwise count as open forever and keep up
// to `broadcastBufferSize` events alive; closing it on collection ends both.
const abandoned = new FinalizationRegistry<ReceiverChannel>((ch) => ch.close());

/**
 * A subscription to a bus's broadcast channel (the snapshot's `ffi_channel_dispatches`,
 * `ffi_channel_drops` and `ffi_channel_lagged` are about it). It sees every event
 * published after it was created, oldest first, through a queue of `broadcastBufferSize`
 * events: if it falls further behind, it loses the oldest ones and the bus counts them in
 * `ffi_channel_lagged`.
 *
 * Read it with `for await (const event of receiver)`, `await receiver.next()` or the
 * non-blocking `tryReceive()`. Hand it to another worker thread with `transfer()`; the
 * receiving thread calls `BroadcastReceiver.fromHandle(handle)` and gets events as
 * structured clones. `close()` (in any thread that holds it) ends it: it stops counting
 * in `ffi_subscriber_count` at once and pending `next()` calls resolve as done.
 */
export class BroadcastReceiver implements AsyncIterableIterator<DomainEvent> {
  private ch: ReceiverChannel;
  private transferred = false;

  /** @internal */
  constructor(channel: ReceiverChannel) {
    this.ch = channel;
    abandoned.register(this, channel, this);
  }

  /**
   * Attaches, in this thread, to a receiver another thread handed over with `transfer()`.
   * Anything but such a handle (the receiver itself, an object holding the handle, a handle
   * without its port, a Proxy of its buffer or port) is an InvalidHandleError that says
   * what was expected.
   */
  static fromHandle(handle: BroadcastReceiverHandle): BroadcastReceiver {
    const h = checkReceiverHandle(handle);
    return new BroadcastReceiver(new RemoteChannel(h.port, h.control, h.buffered));
  }

  /** True once closed (here, or by the bus's thread going away) or transferred. */
  get closed(): boolean {
    return this.transferred || this.ch.closed;
  }

  /** Events waiting to be read here (a remote count may include events the bus has since expired). */
  get size(): number {
    return this.ch.size;
  }

  /** The next event if one is waiting, else undefined; never blocks. */
  tryReceive(): DomainEvent | undefined {
    return this.ch.take();
  }

  /** The next event, waiting for one; `{ done: true }` once the receiver is closed. */
  next(): Promise<IteratorResult<DomainEvent, undefined>> {
    const e = this.ch.take();
    if (e !== undefined) return Promise.resolve({ value: e, done: false });
    return new Promise((resolve) => this.ch.wait(resolve));
  }

  /** Ends iteration (a `break` out of `for await` calls this) and closes the receiver. */
  return(): Promise<IteratorResult<DomainEvent, undefined>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops receiving: the bus no longer counts or feeds this receiver. Idempotent. */
  close(): void {
    if (this.transferred) return;
    this.ch.close();
    abandoned.unregister(this);
  }

  /**
   * Detaches this receiver so another thread can take it over, with the events it holds
   * and without missing any published meanwhile. Post the handle with its port in the
   * transfer list: `worker.postMessage(handle, [handle.port])` (or `workerData` plus
   * `transferList`), then `BroadcastReceiver.fromHandle(handle)` there. This object is
   * closed afterwards (its iteration ends), but the receiver stays open.
   */
  transfer(): BroadcastReceiverHandle {
    if (this.closed) throw new ReceiverClosedError('cannot transfer a closed or already transferred receiver');
    const handle = this.ch.transfer();
    this.transferred = true;
    abandoned.unregister(this);
    return handle;
  }
}
