/*
 * Brand checks for the host objects a handle or a port argument carries. `instanceof` is
 * not one: a Proxy of a real MessagePort or SharedArrayBuffer has the real prototype, so
 * it passes, and then the first native method or getter called on it throws an untyped
 * TypeError ("Illegal invocation"), possibly after some state was changed, or later in a
 * microtask where nothing can catch it. Calling the prototype's own native member with the
 * value as `this` throws at once unless the value is the real thing; the members used here
 * change nothing.
 */
import { MessagePort } from 'node:worker_threads';

// Taken once, at load: a later change to the prototypes cannot swap them.
const sabByteLength = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')!.get!;
// hasRef is in Node since 18.1; not every @types/node declares it.
const portHasRef = (MessagePort.prototype as unknown as { hasRef(): boolean }).hasRef;

/** The byte length of `value` if it is a real SharedArrayBuffer, else undefined. Runs no code of `value`. */
export function sharedBufferLength(value: unknown): number | undefined {
  try {
    return sabByteLength.call(value) as number;
  } catch {
    return undefined;
  }
}

/** Whether `value` is a real MessagePort (not a Proxy of one, not an imitation). Runs no code of `value`. */
export function isMessagePort(value: unknown): value is MessagePort {
  try {
    portHasRef.call(value);
    return true;
  } catch {
    return false;
  }
}
