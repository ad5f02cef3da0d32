/*
 * The broadcast path of InProcessEventBus (after the handlers): every open receiver gets
 * every event published after it subscribed, through a queue of `capacity` events; a
 * receiver further behind than that loses its oldest events, and the bus counts them.
 *
 * A receiver starts in the bus's thread as a LocalChannel: a ring the bus pushes into and
 * the receiver pops from, same thread, no copies, no atomics.
 *
 * A receiver handed to another thread (BroadcastReceiver.transfer) becomes a RemoteLink
 * here and a RemoteChannel there, joined by a MessageChannel and a 16-byte control block
 * in a SharedArrayBuffer:
 *
 *   HEAD     sequence number of the oldest event the receiver has neither consumed nor
 *            lost. Each event's fate is decided by exactly one compareExchange on HEAD:
 *            the receiver's (consumed: seq -> seq+1 when it hands the event out) or the
 *            bus's (lost: when more than `capacity` events would be unconsumed, the bus
 *            moves HEAD past the oldest and counts it in ffi_channel_lagged). So no event
 *            is both delivered and counted lost, none is lost uncounted, and "the oldest"
 *            is exact even for events already sitting in the receiver's thread.
 *   ARRIVED  sequence number after the last event the receiving thread has taken off its
 *            port. The bus keeps at most `capacity` events in flight (posted, not
 *            arrived); beyond that it holds them back (and expires them in place) so a
 *            receiver whose thread is busy cannot make the port's queue grow without
 *            bound. Memory per receiver is O(capacity).
 *   STATE    0 open, 1 closed. Set by close() in whichever thread holds the receiver;
 *            the bus reads it on every publish and snapshot, so a receiver closed in
 *            another thread stops counting in ffi_subscriber_count as soon as close()
 *            returns there.
 *   STALLED  1 while the bus holds events back waiting for ARRIVED to move. The receiver
 *            swaps it to 0 after advancing ARRIVED and, if it was 1, posts a 'drain'
 *            message back; the bus re-checks ARRIVED after setting it, so one of the two
 *            always sees the other (all seq-cst atomics) and no wake-up is lost.
 *
 * Sequence numbers are int32 and wrap; they are only ever compared by difference
 * ((a - b) | 0), which is exact while fewer than 2^31 events separate them — capacity is
 * capped far below that.
 *
 * Dead threads. When the receiving thread exits (or is terminated), Node closes its end
 * of the MessageChannel and this end gets a 'close' event, delivered on the bus thread's
 * next event-loop turn. From then on the receiver no longer counts as open. Until that
 * turn (e.g. while the bus thread is inside a long synchronous publish loop) publishes
 * still count it and post to it, which is harmless: posting to a closed port does
 * nothing. Events are posted in one batch per microtask checkpoint of the bus thread.
 */
import type { MessagePort } from 'node:worker_threads';
import { MessageChannel } from 'node:worker_threads';
import type { DomainEvent } from './domain-event.js';
import { Ring } from './ring.js';

export const C_HEAD = 0;
export const C_ARRIVED = 1;
export const C_STATE = 2;
export const C_STALLED = 3;
export const CONTROL_BYTES = 16;
export const STATE_CLOSED = 1;
export const DRAIN = 'atomic-stats/drain';

/** A batch on the wire: the sequence number of its first event, and the events. */
export type Batch = [first: number, events: DomainEvent[]];

/** What the bus delivers to: one per receiver. */
export interface Link {
  isOpen(): boolean;
  /** Enqueues `event`; returns how many events this receiver lost to make room. */
  push(event: DomainEvent): number;
}

/** The transferable form of a receiver; post it with `[handle.port]` in the transfer list. */
export interface BroadcastReceiverHandle {
  readonly type: 'atomic-stats/broadcast-receiver';
  readonly port: MessagePort;
  readonly control: SharedArrayBuffer;
  /** Events already in the sending thread's hands, delivered first. */
  readonly buffered: Batch[];
}

export class Broadcaster {
  private links: Link[] = [];
  constructor(readonly capacity: number) {}

  add(link: Link): void {
    this.links.push(link);
  }

  replace(old: Link, next: Link): void {
    const i = this.links.indexOf(old);
    if (i >= 0) this.links[i] = next;
  }

  /** Step 3 of a publish: -1 when no receiver is open, else the events lost to lag. */
  publish(event: DomainEvent): number {
    const links = this.links;
    if (links.length === 0) return -1;
    let open = 0;
    let lagged = 0;
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!;
      if (!link.isOpen()) continue;
      open++;
      lagged += link.push(event);
    }
    if (open < links.length) this.prune();
    return open === 0 ? -1 : lagged;
  }

  openCount(): number {
    this.prune();
    return this.links.length;
  }

  private prune(): void {
    this.links = this.links.filter((l) => l.isOpen());
  }
}

type Waiter = (r: IteratorResult<DomainEvent, undefined>) => void;
const DONE: IteratorResult<DomainEvent, undefined> = { value: undefined, done: true };

/** The queue both kinds of receiver expose to BroadcastReceiver. */
export interface ReceiverChannel {
  readonly closed: boolean;
  /** Events waiting (the remote count may include events the bus has since expired). */
  readonly size: number;
  take(): DomainEvent | undefined;
  wait(waiter: Waiter): void;
  close(): void;
  transfer(): BroadcastReceiverHandle;
}

/** A receiver in the bus's own thread. */
export class LocalChannel implements Link, ReceiverChannel {
  private ring: Ring<DomainEvent>;
  private waiters: Waiter[] = [];
  closed = false;

  constructor(private readonly owner: Broadcaster) {
    this.ring = new Ring(owner.capacity);
  }

  get size(): number {
    return this.ring.length;
  }

  isOpen(): boolean {
    return !this.closed;
  }

  push(event: DomainEvent): number {
    // A waiter exists only while the ring is empty: hand the event over directly.
    const w = this.waiters.shift();
    if (w !== undefined) {
      w({ value: event, done: false });
      return 0;
    }
    return this.ring.push(event);
  }

  take(): DomainEvent | undefined {
    return this.ring.shift();
  }

  wait(waiter: Waiter): void {
    if (this.closed) waiter(DONE);
    else this.waiters.push(waiter);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring = new Ring(1);
    for (const w of this.waiters.splice(0)) w(DONE);
  }

  transfer(): BroadcastReceiverHandle {
    const { port1, port2 } = new MessageChannel();
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const link = new RemoteLink(port1, new Int32Array(control), this.owner.capacity, this.ring.drain());
    this.owner.replace(this, link);
    // This object is done; the bus now delivers to the link, so closing here must not
    // look like the receiver went away.
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(DONE);
    return { type: 'atomic-stats/broadcast-receiver', port: port2, control, buffered: [] };
  }
}

/** The bus's side of a receiver that lives in (or was handed to) another thread. */
export class RemoteLink implements Link {
  private next = 0;
  // Sequence number of pending[0]: everything before it was posted or expired here.
  private posted = 0;
  // End of the last batch actually posted. Not `posted`: events expired here, before
  // posting, never travel, and counting them as in flight would stall the link forever.
  private sentEnd = 0;
  private pending: DomainEvent[] = [];
  private scheduled = false;
  private portClosed = false;
  private readonly flushNow = (): void => this.flush();

  constructor(
    private readonly port: MessagePort,
    private readonly ctrl: Int32Array,
    private readonly capacity: number,
    initial: DomainEvent[],
  ) {
    port.on('message', (m: unknown) => {
      if (m === DRAIN) this.flush();
    });
    port.on('close', () => {
      this.portClosed = true;
      this.pending = [];
    });
    // Never keep the bus's process alive for a receiver's sake.
    port.unref();
    for (const e of initial) this.push(e);
  }

  isOpen(): boolean {
    return !this.portClosed && Atomics.load(this.ctrl, C_STATE) !== STATE_CLOSED;
  }

  push(event: DomainEvent): number {
    const ctrl = this.ctrl;
    this.next = (this.next + 1) | 0;
    this.pending.push(event);
    let lagged = 0;
    for (;;) {
      const head = Atomics.load(ctrl, C_HEAD);
      if (((this.next - head) | 0) <= this.capacity) break;
      if (Atomics.compareExchange(ctrl, C_HEAD, head, (head + 1) | 0) !== head) continue; // the receiver took it first
      lagged++;
      // The receiver can only have claimed events it was sent, so HEAD never passes
      // `posted`: an expired event is either in flight (the receiver will see HEAD past it
      // and drop it) or still here, as the first pending one.
      if (head === this.posted) {
        this.pending.shift();
        this.posted = (this.posted + 1) | 0;
      }
    }
    if (!this.scheduled) {
      // Queued first: if queueing throws (a publish at the end of the stack), `scheduled`
      // stays false and the next push queues the flush; set first, the link would wait
      // for a flush that never comes.
      queueMicrotask(this.flushNow);
      this.scheduled = true;
    }
    return lagged;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || !this.isOpen()) return;
    const ctrl = this.ctrl;
    if (((this.sentEnd - Atomics.load(ctrl, C_ARRIVED)) | 0) >= this.capacity) {
      Atomics.store(ctrl, C_STALLED, 1);
      if (((this.sentEnd - Atomics.load(ctrl, C_ARRIVED)) | 0) >= this.capacity) return;
      Atomics.store(ctrl, C_STALLED, 0);
    }
    const batch: Batch = [this.posted, this.pending];
    this.posted = (this.posted + this.pending.length) | 0;
    this.sentEnd = this.posted;
    this.pending = [];
    this.port.postMessage(batch);
  }
}

/** The receiving side of a RemoteLink, in whichever thread holds the receiver. */
export class RemoteChannel implements ReceiverChannel {
  private batches: Batch[] = [];
  private index = 0; // next event in batches[0]
  private waiters: Waiter[] = [];
  private readonly ctrl: Int32Array;
  closed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly control: SharedArrayBuffer,
    buffered: Batch[],
  ) {
    this.ctrl = new Int32Array(control);
    this.batches.push(...buffered);
    port.on('message', (m: unknown) => this.onBatch(m as Batch));
    port.on('close', () => this.close());
    port.unref();
  }

  get size(): number {
    let n = -this.index;
    for (const b of this.batches) n += b[1].length;
    return n;
  }

  private onBatch(batch: Batch): void {
    if (this.closed) return;
    const [first, events] = batch;
    const end = (first + events.length) | 0;
    Atomics.store(this.ctrl, C_ARRIVED, end);
    if (Atomics.exchange(this.ctrl, C_STALLED, 0) === 1) this.port.postMessage(DRAIN);
    // A batch the bus has wholly expired meanwhile is not worth keeping.
    if (((end - Atomics.load(this.ctrl, C_HEAD)) | 0) > 0) this.batches.push(batch);
    while (this.waiters.length > 0) {
      const e = this.take();
      if (e === undefined) break;
      this.waiters.shift()!({ value: e, done: false });
    }
    if (this.waiters.length === 0) this.port.unref();
  }

  take(): DomainEvent | undefined {
    const ctrl = this.ctrl;
    while (this.batches.length > 0) {
      const [first, events] = this.batches[0]!;
      if (this.index >= events.length) {
        this.batches.shift();
        this.index = 0;
        continue;
      }
      const seq = (first + this.index) | 0;
      const event = events[this.index]!;
      this.index++;
      // Every event before `seq` is already consumed or expired, so HEAD >= seq: equal
      // means ours to claim (unless the bus expires it this instant), greater means lost.
      const head = Atomics.load(ctrl, C_HEAD);
      if (head === seq && Atomics.compareExchange(ctrl, C_HEAD, seq, (seq + 1) | 0) === seq) return event;
    }
    return undefined;
  }

  wait(waiter: Waiter): void {
    if (this.closed) {
      waiter(DONE);
      return;
    }
    this.waiters.push(waiter);
    // Keep this thread alive while someone is waiting for an event.
    this.port.ref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, C_STATE, STATE_CLOSED);
    this.batches = [];
    this.port.close();
    for (const w of this.waiters.splice(0)) w(DONE);
  }

  transfer(): BroadcastReceiverHandle {
    // Hand the port on, with what this thread already received but not consumed.
    this.port.removeAllListeners('message');
    this.port.removeAllListeners('close');
    // Batches, not one list: a wholly expired batch may have been skipped, so their
    // sequence numbers need not be contiguous.
    const buffered: Batch[] = this.batches.map((b, i) => (i === 0 ? [(b[0] + this.index) | 0, b[1].slice(this.index)] : b));
    this.batches = [];
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(DONE);
    return { type: 'atomic-stats/broadcast-receiver', port: this.port, control: this.control, buffered };
  }
}
