/*
 * The context `call` hands to fn: `signal` is an own enumerable property, so spreading the
 * context into a request's options (`fetch(url, { ...ctx, method })`,
 * `pool.query({ ...ctx, text })`) keeps the signal; nothing else is reachable from it (no
 * internal field, no way to abort the signal from fn); it cannot be changed. Checked with a
 * real fetch to a local server that never answers: the breaker's timeout aborts it.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallTimeoutError, type CallContext } from '../src/index.js';
import { BACKENDS } from './helpers/backends.js';
import { breakerOn } from './helpers/breaker.js';

const never = () => new Promise<never>(() => {});

/** The context of one call, with the options given (none: the plain path). */
async function contextOf(backend: (typeof BACKENDS)[number], options?: Parameters<ReturnType<typeof breakerOn>['breaker']['call']>[1]): Promise<CallContext> {
  const { breaker } = breakerOn(backend);
  let ctx!: CallContext;
  await breaker.call((c) => {
    ctx = c;
    return 1;
  }, options);
  return ctx;
}

describe.each(BACKENDS)('the call context (%s backend)', (backend) => {
  it.each([
    ['no options (the plain path)', undefined],
    ['a timeout, a caller signal and a fallback', { timeoutMs: 1000, signal: new AbortController().signal, fallback: () => 0 }],
  ])('with %s: signal is its one own enumerable property, kept by a spread; nothing else is reachable', async (_, options) => {
    const ctx = await contextOf(backend, options);
    expect(Object.keys(ctx)).toEqual(['signal']);
    expect(Reflect.ownKeys(ctx)).toEqual(['signal']);
    expect(Object.getOwnPropertyDescriptor(ctx, 'signal')).toMatchObject({ enumerable: true });
    expect(Object.getPrototypeOf(ctx)).toBe(Object.prototype);
    const spread = { ...ctx, method: 'POST' };
    expect(spread.signal).toBeInstanceOf(AbortSignal);
    expect(spread.signal).toBe(ctx.signal);
    expect(Object.assign({}, ctx).signal).toBe(ctx.signal);
    const names: string[] = [];
    for (const k in ctx) names.push(k);
    expect(names).toEqual(['signal']);
    // No internal member, under any name the implementation might use.
    for (const member of ['abort', 'controller', 'reason', 'end', 'resolve', 'reject', 'settled', 'threw', 'arm', 'expire', 'context', 'deadline']) {
      expect(member in ctx).toBe(false);
      expect((ctx as unknown as Record<string, unknown>)[member]).toBeUndefined();
    }
    // It cannot be changed: not its signal, not its shape.
    const other = new AbortController().signal;
    expect(() => {
      (ctx as { signal: AbortSignal }).signal = other;
    }).toThrow(TypeError);
    expect(() => Object.defineProperty(ctx, 'abort', { value: () => {} })).toThrow(TypeError);
    expect(() => delete (ctx as { signal?: AbortSignal }).signal).toThrow(TypeError);
    expect(() => Object.setPrototypeOf(ctx, {})).toThrow(TypeError);
    expect(ctx.signal).not.toBe(other);
    expect(inspect(ctx)).toMatch(/^\{ signal: AbortSignal \{ aborted: false \} \}$/);
  });

  it('fn cannot abort its own signal: only a timeout or the caller does', async () => {
    const { breaker } = breakerOn(backend);
    const r = await breaker.call((ctx) => {
      const anyCtx = ctx as unknown as Record<string, unknown>;
      const tries = [anyCtx.abort, Object.getOwnPropertyDescriptor(ctx, 'signal')?.get, Object.getOwnPropertyDescriptor(ctx, 'signal')?.set];
      expect(tries).toEqual([undefined, undefined, undefined]);
      return ctx.signal.aborted;
    });
    expect(r).toBe(false);
  });

  it('each call gets its own context and signal; a timed-out call’s spread copy sees the abort', async () => {
    const { breaker } = breakerOn(backend);
    const copies: { signal: AbortSignal; text: string }[] = [];
    const first = await contextOf(backend);
    const second = await contextOf(backend);
    expect(first).not.toBe(second);
    expect(first.signal).not.toBe(second.signal);
    await expect(
      breaker.call(
        (ctx) => {
          copies.push({ ...ctx, text: 'SELECT 1' });
          return never();
        },
        { timeoutMs: 20 },
      ),
    ).rejects.toBeInstanceOf(CallTimeoutError);
    expect(copies[0]!.signal.aborted).toBe(true);
    expect(copies[0]!.signal.reason).toBeInstanceOf(CallTimeoutError);
  });
});

/** What `p` rejects with, 'resolved', or 'still pending' after two seconds. */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    p.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still pending'), 2000)),
  ]);
}

describe('a spread context aborts a real fetch when the breaker times out', () => {
  let server: Server;
  let url: string;
  const sockets = new Set<import('node:net').Socket>();
  let requests = 0;
  beforeAll(async () => {
    // Accepts the request and never answers it.
    server = createServer(() => {
      requests++;
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it.each(BACKENDS)('fetch(url, { ...ctx, method: "POST" }) is aborted, rejecting with the timeout as its reason (%s backend)', async (backend) => {
    const { breaker } = breakerOn(backend);
    let fetched!: Promise<Response>;
    const before = requests;
    const call = breaker.call(
      (ctx) => {
        fetched = fetch(url, { ...ctx, method: 'POST', body: 'x' });
        return fetched;
      },
      { timeoutMs: 150 },
    );
    await expect(call).rejects.toBeInstanceOf(CallTimeoutError);
    // The fetch itself is aborted: it rejects with the signal's reason (fetch rejects
    // with a DOMException AbortError only for a signal aborted without one). A fetch that
    // lost the signal would still be waiting for the server, which never answers.
    const err = await outcome(fetched);
    expect(err).toBeInstanceOf(CallTimeoutError);
    expect(requests).toBe(before + 1); // the request did reach the server
    expect(breaker.metrics()).toMatchObject({ failure_count: 1, success_count: 0 });
  });

  it('the same with the options object spread whole: fetch(url, { method, ...ctx })', async () => {
    const { breaker } = breakerOn('auto');
    let fetched!: Promise<Response>;
    await expect(
      breaker.call(
        (ctx) => (fetched = fetch(url, { method: 'GET', ...ctx })),
        { timeoutMs: 150 },
      ),
    ).rejects.toBeInstanceOf(CallTimeoutError);
    expect(await outcome(fetched)).toBeInstanceOf(CallTimeoutError);
  });
});
