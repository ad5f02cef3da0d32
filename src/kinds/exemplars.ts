/*
 * Exemplars (`enableExemplars: true` on a counter or histogram): the labels of one
 * recent observation (a trace id, say) with its value and time, per counter series and
 * per histogram bucket, written by any thread and read by any other.
 *
 * A slot, after the series' cells (8-byte aligned), EXEMPLAR_SLOT bytes:
 *   +0   seq: even at rest, odd while a writer writes; 0 never written
 *   +4   bytes of the encoded labels (0..MAX_LABEL_BYTES)
 *   +8   the value, an f64            +16  the time, seconds since the epoch, an f64
 *   +24  the labels, as the UTF-8 of a JSON object, at most MAX_LABEL_BYTES
 *
 * A sequence lock: an exemplar is several words, and a reader must never see the labels of
 * one beside the value of another. A writer moves seq from even s to s + 1 with one CAS,
 * writes, then stores s + 2; a reader reads seq, the fields, and seq again, and keeps the
 * fields only when both reads gave the same even number (otherwise it tries again, a
 * bounded number of times (64), then reports no exemplar for this read). A writer that finds seq odd, or
 * loses its CAS, drops its exemplar: another thread is writing a newer one, and an
 * exemplar is a sample, not a count (counts are in the cells, untouched by this). Writers
 * never wait. A writer terminated between its two seq writes leaves the slot odd: that
 * series (or bucket) has no exemplar from then on; nothing else is affected.
 *
 * Bounds. OpenMetrics caps an exemplar's label names and values at 128 UTF-8 characters
 * together; labels past that are an InvalidLabelsError and nothing is recorded. Their
 * encoding takes at most 4 bytes a character plus the JSON punctuation, so MAX_LABEL_BYTES
 * holds any label set within the cap. A reader trusts no length: one beyond the slot, or
 * bytes that are not a JSON object of strings, is no exemplar.
 */
import type { Exemplar } from '../family.js';
import type { MetricOps } from '../ops/metrics.js';
import { InvalidLabelsError } from './errors.js';

/** Bytes of the encoded labels a slot holds. */
const MAX_LABEL_BYTES = 1024;
/** Bytes of one exemplar slot. */
export const EXEMPLAR_SLOT = 24 + MAX_LABEL_BYTES;
/** OpenMetrics' cap on an exemplar's label names and values, in characters. */
export const MAX_EXEMPLAR_CHARS = 128;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Checks and encodes `labels` (an object of label names to strings or numbers); throws InvalidLabelsError. */
export function encodeExemplarLabels(metric: string, labels: unknown): Uint8Array {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) throw new InvalidLabelsError(metric, 'exemplarLabels must be an object of label names to values');
  const out: Record<string, string> = {};
  let chars = 0;
  for (const k of Object.keys(labels)) {
    const v = (labels as Record<string, unknown>)[k];
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new InvalidLabelsError(metric, `exemplar label name ${JSON.stringify(k)} is not a valid label name`);
    if (typeof v !== 'string' && typeof v !== 'number') throw new InvalidLabelsError(metric, `exemplar label ${k} must be a string or a number`);
    const s = String(v);
    chars += [...k].length + [...s].length;
    out[k] = s;
  }
  if (chars > MAX_EXEMPLAR_CHARS) throw new InvalidLabelsError(metric, `exemplar labels take ${chars} characters; OpenMetrics allows ${MAX_EXEMPLAR_CHARS}`);
  const bytes = encoder.encode(JSON.stringify(out));
  if (bytes.length > MAX_LABEL_BYTES) throw new InvalidLabelsError(metric, 'exemplar labels too long');
  return bytes;
}

/** Writes an exemplar into the slot at byte offset `slot` (8-aligned), or drops it when another thread is writing one. */
export function writeExemplar(i32: Int32Array, u8: Uint8Array, m: MetricOps, slot: number, labels: Uint8Array, value: number): void {
  const w = slot >>> 2;
  const s = Atomics.load(i32, w);
  if ((s & 1) !== 0 || Atomics.compareExchange(i32, w, s, s + 1) !== s) return;
  Atomics.store(i32, w + 1, labels.length);
  m.gaugeSet(slot + 8, value);
  m.gaugeSet(slot + 16, Date.now() / 1000);
  u8.set(labels, slot + 24);
  Atomics.store(i32, w, (s + 2) | 0);
}

/** The exemplar in the slot at `slot`, or undefined (never written, being written throughout, or unreadable). */
export function readExemplar(i32: Int32Array, u8: Uint8Array, m: MetricOps, slot: number): Exemplar | undefined {
  const w = slot >>> 2;
  for (let tries = 0; tries < 64; tries++) {
    const s1 = Atomics.load(i32, w);
    if (s1 === 0) return undefined;
    if ((s1 & 1) !== 0) continue;
    const len = Atomics.load(i32, w + 1);
    const value = m.gaugeGet(slot + 8);
    const timestamp = m.gaugeGet(slot + 16);
    const bytes = len >= 0 && len <= MAX_LABEL_BYTES ? u8.slice(slot + 24, slot + 24 + len) : undefined;
    if (Atomics.load(i32, w) !== s1) continue;
    if (bytes === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(decoder.decode(bytes));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed)) {
        if (typeof v !== 'string') return undefined;
        labels[k] = v;
      }
      return { labels: Object.freeze(labels), value, timestamp };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
