/*
 * Checking a broadcast receiver's handle (BroadcastReceiver.fromHandle), the way
 * StatsRegistry.attach checks a registry's: each field is read exactly once, into a local
 * that the checks and the receiver then use (a getter answering differently on a second
 * read cannot have one value checked and another used); the control buffer and the port
 * are brand-checked (src/brand.ts), so a Proxy of a real one is refused with a typed error
 * rather than failing later with a TypeError; the buffered events are copied into
 * fresh arrays of the shape the receiver reads; and a wrong value says what was expected
 * and what the likely mistake was.
 */
import type { MessagePort } from 'node:worker_threads';
import { isMessagePort, sharedBufferLength } from '../brand.js';
import { InvalidHandleError, describe } from '../errors.js';
import { keyHolding, thrownText } from '../handle-hint.js';
import { type Batch, CONTROL_BYTES } from './broadcast.js';
import type { DomainEvent } from './domain-event.js';

const KIND = 'broadcast receiver';
const TAG = 'atomic-stats/broadcast-receiver';

/** What a checked handle gives the receiver: its own copies of the handle's fields. */
export interface CheckedReceiverHandle {
  readonly port: MessagePort;
  readonly control: SharedArrayBuffer;
  readonly buffered: Batch[];
}

function refused(message: string): InvalidHandleError {
  return new InvalidHandleError(message, KIND);
}

function wrongHandle(value: object, type: unknown): InvalidHandleError {
  if (type === 'atomic-stats/registry') return refused('got a registry handle: pass it to StatsRegistry.attach; fromHandle takes the object from receiver.transfer()');
  if (typeof (value as { transfer?: unknown }).transfer === 'function' && typeof (value as { tryReceive?: unknown }).tryReceive === 'function') {
    return refused('got a BroadcastReceiver itself: pass the object receiver.transfer() returns, not the receiver');
  }
  const holder = keyHolding(value, TAG);
  if (holder !== undefined) {
    return refused(`got an object holding a receiver handle in its ${JSON.stringify(holder)} property: pass the handle itself (value.${holder}), not the object around it`);
  }
  return refused(`its type tag is ${describe(type)}, expected "${TAG}": pass the object from receiver.transfer()`);
}

/** `buffered` as fresh batches `[first, events]`, or why it is not that. */
function copyBatches(buffered: unknown): Batch[] | string {
  if (!Array.isArray(buffered)) return 'its buffered events are not an array';
  const n = buffered.length;
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) {
    const b: unknown = buffered[i];
    if (!Array.isArray(b) || b.length !== 2) return `its buffered batch ${i} is not a [first, events] pair`;
    const first: unknown = b[0];
    const events: unknown = b[1];
    if (typeof first !== 'number' || (first | 0) !== first || !Array.isArray(events)) return `its buffered batch ${i} is not a [first, events] pair`;
    out.push([first, Array.from(events as DomainEvent[])]);
  }
  return out;
}

/** The fields of a receiver handle, checked; throws InvalidHandleError otherwise. */
export function checkReceiverHandle(handle: unknown): CheckedReceiverHandle {
  if (handle === null || typeof handle !== 'object') throw refused(`expected the object from receiver.transfer(), got ${describe(handle)}`);
  let control: unknown;
  let buffered: Batch[] | string;
  let port: unknown;
  try {
    const type = (handle as { type?: unknown }).type;
    if (type !== TAG) throw wrongHandle(handle, type);
    control = (handle as { control?: unknown }).control;
    buffered = copyBatches((handle as { buffered?: unknown }).buffered);
    port = (handle as { port?: unknown }).port;
  } catch (err) {
    if (err instanceof InvalidHandleError) throw err;
    throw refused(`reading its fields threw (${thrownText(err)})`);
  }
  const length = sharedBufferLength(control);
  if (length === undefined) throw refused('its control buffer is not a SharedArrayBuffer');
  if (length !== CONTROL_BYTES) throw refused(`its control buffer has ${length} bytes, expected ${CONTROL_BYTES}`);
  if (typeof buffered === 'string') throw refused(buffered);
  if (port === undefined) throw refused('it has no port (was it posted with [handle.port] in the transfer list?)');
  if (!isMessagePort(port)) throw refused('its port is not a MessagePort (a Proxy of one, or any other imitation, is not accepted)');
  return { port: port as MessagePort, control: control as SharedArrayBuffer, buffered };
}
