/*
 * The dispatch timeouts of one bus: every publish awaiting handlers has a deadline
 * (start + dispatchTimeoutMs), and one unref'd timer per bus is armed for the earliest
 * one, the way the breaker's call timeouts work (src/policy/timeout.ts). All of a bus's
 * publishes wait the same dispatchTimeoutMs and read one monotonic clock, so appending
 * keeps the queue in deadline order.
 *
 * Why not a timer per publish, armed in publish(). setTimeout and clearTimeout are Node's
 * own JavaScript: a linked list per duration and a priority queue of those lists. A
 * publish may run at the very end of the stack (a chain of publishes from handlers that
 * recurses until RangeError), and a RangeError raised half-way through Node's update of
 * those lists leaves them broken for the whole process: a test that overflowed the stack
 * at many different points once left a timer list looping forever. So the publish path
 * only appends to an array of ours and queues a reaction on a settled promise (a V8
 * builtin); the timer is armed, re-armed and cleared only from that microtask, from its
 * own callback and from completions, which all run on a fresh stack. It is cheaper, too:
 * no Timeout object and no list insertion and removal per publish.
 *
 * Completed publishes are dropped lazily: from the head when a publish is added, and by a
 * compaction when they outnumber the pending ones by more than a constant (a hung publish
 * at the head would otherwise keep every later, completed one until its own deadline).
 * When nothing is pending any more the timer is left to fire once more and stop (see
 * ended()), so a bus whose handlers settle keeps no timer longer than dispatchTimeoutMs.
 */
import { monotonicClock } from '../clock.js';

/** What the queue holds: a deadline, and whether the publish has completed (by any way). */
export interface Expiring {
  readonly deadline: number;
  readonly done: boolean;
}

const SETTLED = Promise.resolve();
const nativeThen = Promise.prototype.then;

export class DispatchDeadlines<T extends Expiring> {
  private items: T[] = [];
  private head = 0;
  /** Publishes added and not yet ended. */
  private live = 0;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  // An arm() is queued (a microtask); set only once it is, so that a queueing that throws
  // leaves nothing believed scheduled.
  private scheduled = false;
  private readonly armNow = (): void => this.arm();
  private readonly fire = (): void => this.expireDue();

  /** `expire(item)` completes a publish whose deadline passed (and must end it). */
  constructor(
    private readonly timeoutMs: number,
    private readonly expire: (item: T) => void,
  ) {}

  /** The deadline of a publish starting to wait now. May throw (it reads the clock); changes nothing. */
  deadline(): number {
    return monotonicClock() + this.timeoutMs;
  }

  /**
   * Adds a publish. Safe at the end of the stack: it either throws having changed nothing
   * that matters (at most a spare arm() is queued, which finds nothing new to do), or
   * returns with the publish queued and a timer armed or about to be.
   */
  add(item: T): void {
    if (this.timer === undefined && !this.scheduled) {
      nativeThen.call(SETTLED, this.armNow);
      this.scheduled = true;
    }
    const items = this.items;
    if (items.length - this.head > 2 * this.live + 64) {
      this.items = items.filter((it, i) => i >= this.head && !it.done);
      this.head = 0;
    }
    this.items.push(item);
    this.live++;
  }

  /** A publish completed (by its handlers or its deadline). Called on a fresh stack only. */
  ended(): void {
    this.live--;
    if (this.live === 0) {
      // Drained: start over without shrinking the array. The timer, if armed, is left to
      // fire once more, find nothing due and stop: clearing and re-arming it for every
      // publish of a bus whose handlers settle one at a time cost more than the rest of
      // such a publish's bookkeeping.
      this.items.length = 0;
      this.head = 0;
    }
  }

  /** Publishes added and not yet ended (for tests). */
  get pending(): number {
    return this.live;
  }

  // Arms the timer for the earliest pending deadline, unless one is armed already.
  private arm(): void {
    this.scheduled = false;
    if (this.timer !== undefined) return;
    const items = this.items;
    while (this.head < items.length && items[this.head]!.done) this.head++;
    if (this.head === items.length) return;
    // setTimeout counts whole ms on a loop clock that may lag ours by up to a ms: a timer
    // that fires a little early finds its publish not yet due and is re-armed for the rest.
    const t = setTimeout(this.fire, Math.max(1, Math.ceil(items[this.head]!.deadline - monotonicClock())));
    t.unref();
    this.timer = t;
  }

  private expireDue(): void {
    this.timer = undefined;
    const now = monotonicClock();
    // Completing a publish runs handlers' reports and receivers, which may publish again
    // and append here: the loop stops at those, whose deadlines are later.
    for (; this.head < this.items.length; this.head++) {
      const it = this.items[this.head]!;
      if (it.done) continue;
      if (it.deadline > now) break;
      this.expire(it);
    }
    if (this.live > 0) this.arm();
  }
}
