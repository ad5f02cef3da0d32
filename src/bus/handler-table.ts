import type { DomainEvent } from './domain-event.js';
import { type PatternMatcher, compilePattern } from './pattern.js';

/**
 * A handler given to `InProcessEventBus.subscribe`: synchronous (it returns anything but a
 * thenable) or asynchronous (it returns a promise, awaited up to the bus's
 * `dispatchTimeoutMs`). It receives the published object itself.
 *
 * `P` is the payload type the subscriber expects. The bus does not check it: it checks only
 * that an event has a string `event_name` and carries everything else as published, so `P`
 * (like the presence of the other `DomainEvent` fields) is the subscriber's assertion about
 * what its publishers send. Validate the payload in the handler when publishers are not
 * under your control.
 */
export type EventHandler<P = unknown> = (event: DomainEvent<P>) => unknown;

interface Subscription {
  readonly matcher: PatternMatcher;
  readonly handlers: EventHandler[];
}

/** The handlers an event name matches, in subscription order, with the pattern of each. */
export interface MatchList {
  readonly handlers: readonly EventHandler[];
  readonly patterns: readonly string[];
}

const EMPTY: MatchList = { handlers: [], patterns: [] };

/**
 * Names whose match lists are remembered. Event names are usually a small fixed set;
 * the bound only keeps a stream of unique names (ids in names) from growing the cache
 * without limit: when it is full it is emptied and refilled from the names in use.
 */
const CACHE_LIMIT = 4096;

/**
 * Pattern -> handlers, with the match list of each event name computed once (patterns
 * are split at subscribe time, names once per cache miss) and kept until the next
 * subscribe, unsubscribe or clear.
 */
export class HandlerTable {
  private readonly subs = new Map<string, Subscription>();
  private cache = new Map<string, MatchList>();
  // One-entry cache in front of the map: a publisher usually repeats one name (often the
  // same string literal), and an equality test of two identical strings is cheaper than
  // a Map lookup.
  private lastName: string | undefined = undefined;
  private lastList: MatchList = EMPTY;
  private count = 0;

  /** Distinct pattern strings with at least one handler. */
  get patternCount(): number {
    return this.subs.size;
  }

  /** Handlers over all patterns (a handler subscribed twice counts twice). */
  get handlerCount(): number {
    return this.count;
  }

  add(pattern: string, handler: EventHandler): void {
    let sub = this.subs.get(pattern);
    if (sub === undefined) {
      sub = { matcher: compilePattern(pattern), handlers: [] };
      this.subs.set(pattern, sub);
    }
    sub.handlers.push(handler);
    this.count++;
    this.invalidate();
  }

  /** Removes one registration of `handler` on `pattern`; false if there is none. */
  remove(pattern: string, handler: EventHandler): boolean {
    const sub = this.subs.get(pattern);
    if (sub === undefined) return false;
    const i = sub.handlers.lastIndexOf(handler);
    if (i < 0) return false;
    sub.handlers.splice(i, 1);
    if (sub.handlers.length === 0) this.subs.delete(pattern);
    this.count--;
    this.invalidate();
    return true;
  }

  clear(): void {
    this.subs.clear();
    this.count = 0;
    this.invalidate();
  }

  match(eventName: string): MatchList {
    if (eventName === this.lastName) return this.lastList;
    let list = this.cache.get(eventName);
    if (list === undefined) list = this.compute(eventName);
    this.lastName = eventName;
    this.lastList = list;
    return list;
  }

  private invalidate(): void {
    this.cache = new Map();
    this.lastName = undefined;
    this.lastList = EMPTY;
  }

  private compute(eventName: string): MatchList {
    const handlers: EventHandler[] = [];
    const patterns: string[] = [];
    for (const [pattern, sub] of this.subs) {
      if (!sub.matcher(eventName)) continue;
      for (const h of sub.handlers) {
        handlers.push(h);
        patterns.push(pattern);
      }
    }
    const list = handlers.length === 0 ? EMPTY : { handlers, patterns };
    if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
    this.cache.set(eventName, list);
    return list;
  }
}
