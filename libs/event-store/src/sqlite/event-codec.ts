import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@parley/contracts';
import { DICTIONARY_V1 } from './event-dictionary';
import { rawCodec } from './raw-deflate';

/**
 * How the SQLite log stores an event: the row's columns hold what it is looked up by (its run, seq,
 * event id and hash), the body the rest, deflated with a preset dictionary. Reading a row gives back
 * the envelope exactly as it was sealed: same members, same order, same values, so its JSON (and
 * its hash) is the same text.
 *
 * Body, first byte the codec (the dictionary's version goes with it):
 * - `1` compact, dictionary 1: a flags byte, the 32 bytes of `prevHash`, `at` as 6 bytes of
 *   milliseconds (when `new Date(ms).toISOString()` gives it back), a workflow snapshot's id (a
 *   varint) when the event carried one, then the deflated JSON array
 *   `[type, schemaVersion, actor, data, at?, correlationId?, causationId?]` (the last three only
 *   when they are not the usual: `at` not in ms form, `correlationId` not the run id, `causationId`
 *   not null), with the run id written as \u0001 and the snapshot as \u0002 (neither character can
 *   appear in JSON text). The event id, run id, seq and hash come from the row's columns.
 * - `2` verbatim, dictionary 1: the deflated JSON text of the whole envelope, as given; for an
 *   envelope that does not have the usual shape (a member more or less, another order, a hash that
 *   is not 64 hex digits...), and for rows migrated from the first schema whose text is not what
 *   `JSON.stringify` makes of it (an edit by hand stays exactly as it was, and fails its hash).
 */
export const CODEC_COMPACT_1 = 1;
export const CODEC_VERBATIM_1 = 2;

const AT_MS = 1;
const AT_TEXT = 2;
const CORRELATION = 4;
const CAUSATION = 8;
const SNAPSHOT = 16;

/** The envelope's members, in the order `sealBatch` writes them. */
const ENVELOPE_KEYS =
  'eventId,runId,seq,type,schemaVersion,at,actor,data,correlationId,causationId,prevHash,hash';
const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A workflow snapshot shorter than this stays in its event. */
const SNAPSHOT_MIN = 256;

const zip = rawCodec(DICTIONARY_V1);

/** Whether the kept zlib handles are in use (else Node's public, slower, functions). */
export const zlibHandlesReused = zip.reused;

/** A row's columns as stored: `eventId` and `hash` in their compact forms. */
export interface EncodedRow {
  eventId: Buffer | string;
  hash: Buffer | string;
  body: Buffer;
}

/** Where encoded snapshots go and come from (the log's `snapshots` table). */
export interface SnapshotStore {
  /** The id of the snapshot with this SHA-256, stored now if it is new. */
  idFor(hash: Buffer, text: string): number;
  text(id: number): string;
  /**
   * The snapshot parsed, one object for every event that refers to it, when the reader only reads
   * (the log's check: never changed, hashed once); absent: each event gets its own copy.
   */
  shared?(id: number): object;
}

export class StoredEventError extends SyntaxError {}

export function eventIdColumn(eventId: string): Buffer | string {
  return UUID.test(eventId) ? Buffer.from(eventId.replace(/-/g, ''), 'hex') : eventId;
}

export function hashColumn(hash: string): Buffer | string {
  return HEX64.test(hash) ? Buffer.from(hash, 'hex') : hash;
}

/**
 * An event id from its column: a Buffer (the 16 bytes of a UUID) or the text as the log's reads
 * select it (32 hex digits of those bytes, or `~` and the id as it was given).
 */
export function eventIdOf(column: Buffer | string): string {
  const h = typeof column === 'string' ? column : column.toString('hex');
  if (h.charCodeAt(0) === 126 /* ~ */) return h.slice(1);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A hash from its column: a Buffer (32 bytes), or the text as the reads select it (see `eventIdOf`). */
export function hashOf(column: Buffer | string): string {
  if (typeof column !== 'string') return column.toString('hex');
  return column.charCodeAt(0) === 126 ? column.slice(1) : column;
}

/** The stored form of `e`; `snapshots` takes a workflow snapshot the event carries. */
export function encodeEvent(e: EventEnvelope, snapshots: SnapshotStore): EncodedRow {
  const eventId = typeof e.eventId === 'string' ? eventIdColumn(e.eventId) : '';
  const hash = typeof e.hash === 'string' ? hashColumn(e.hash) : '';
  if (!compactable(e)) return { eventId, hash, body: verbatim(JSON.stringify(e)) };
  let flags = 0;
  const rest: unknown[] = [e.type, e.schemaVersion, e.actor, e.data];
  const ms = Date.parse(e.at);
  if (Number.isSafeInteger(ms) && ms >= 0 && ms < 2 ** 47 && new Date(ms).toISOString() === e.at)
    flags |= AT_MS;
  else {
    flags |= AT_TEXT;
    rest.push(e.at);
  }
  if (e.correlationId !== e.runId) {
    flags |= CORRELATION;
    rest.push(e.correlationId);
  }
  if (e.causationId !== null) {
    flags |= CAUSATION;
    rest.push(e.causationId);
  }
  let text = JSON.stringify(rest);
  let snapshotId = 0;
  const workflow = (e.data as { workflow?: unknown } | null)?.workflow;
  if (workflow !== null && typeof workflow === 'object') {
    const snapshot = JSON.stringify(workflow);
    const at = snapshot.length >= SNAPSHOT_MIN ? text.indexOf(snapshot) : -1;
    if (at >= 0) {
      flags |= SNAPSHOT;
      snapshotId = snapshots.idFor(createHash('sha256').update(snapshot).digest(), snapshot);
      text = `${text.slice(0, at)}\u0002${text.slice(at + snapshot.length)}`;
    }
  }
  if (e.runId.length >= 8 && text.includes(e.runId)) text = text.split(e.runId).join('\u0001');
  const packed = zip.deflate(Buffer.from(text, 'utf8'));
  const head = Buffer.allocUnsafe(2 + 32 + (flags & AT_MS ? 6 : 0) + (flags & SNAPSHOT ? 9 : 0));
  head[0] = CODEC_COMPACT_1;
  head[1] = flags;
  head.write(e.prevHash, 2, 32, 'hex');
  let off = 34;
  if (flags & AT_MS) off = head.writeUIntBE(ms, off, 6);
  if (flags & SNAPSHOT) off = writeVarint(head, off, snapshotId);
  return { eventId, hash, body: Buffer.concat([head.subarray(0, off), packed]) };
}

/** The JSON text of an envelope kept as it is (codec 2). */
export function verbatim(json: string): Buffer {
  return Buffer.concat([Buffer.from([CODEC_VERBATIM_1]), zip.deflate(Buffer.from(json, 'utf8'))]);
}

/** The envelope a stored row holds. Throws StoredEventError, naming run and seq, for a body it cannot read. */
export function decodeEvent(
  runId: string,
  seq: number,
  eventIdColumnValue: Buffer | string,
  hashColumnValue: Buffer | string,
  body: Buffer | string,
  snapshots: SnapshotStore,
): EventEnvelope {
  // a body written as JSON text: the first schema's, or an edit by hand (its own members only)
  if (typeof body === 'string') return JSON.parse(body) as EventEnvelope;
  try {
    return decodeBody(runId, seq, eventIdColumnValue, hashColumnValue, body, snapshots);
  } catch (error) {
    throw new StoredEventError(
      `run ${runId} seq ${seq}: its stored event cannot be read (${(error as Error).message})`,
    );
  }
}

function decodeBody(
  runId: string,
  seq: number,
  eventIdColumnValue: Buffer | string,
  hashColumnValue: Buffer | string,
  body: Buffer,
  snapshots: SnapshotStore,
): EventEnvelope {
  const codec = body[0];
  if (codec === CODEC_VERBATIM_1) return JSON.parse(inflate(body, 1)) as EventEnvelope;
  if (codec !== CODEC_COMPACT_1 || body.length < 34) throw new Error(`unknown codec ${codec}`);
  const flags = body[1];
  const prevHash = body.toString('hex', 2, 34);
  let off = 34;
  let at: string | undefined;
  if (flags & AT_MS) {
    at = new Date(body.readUIntBE(off, 6)).toISOString();
    off += 6;
  }
  let snapshotId: number | undefined;
  if (flags & SNAPSHOT) {
    const [id, next] = readVarint(body, off);
    off = next;
    snapshotId = id;
  }
  let text = inflate(body, off);
  if (text.includes('\u0001')) text = text.split('\u0001').join(runId);
  let rest: unknown[] | undefined;
  if (snapshotId !== undefined) {
    const i = text.indexOf('\u0002');
    if (i < 0) throw new Error('no place for its workflow snapshot');
    if (snapshots.shared) {
      // the shared object where the encoder took the workflow out (`data.workflow`, as a rule)
      const parsed = JSON.parse(`${text.slice(0, i)}"\\u0002"${text.slice(i + 1)}`) as unknown[];
      const data = Array.isArray(parsed) ? (parsed[3] as { workflow?: unknown } | null) : null;
      if (data !== null && typeof data === 'object' && data.workflow === '\u0002') {
        data.workflow = snapshots.shared(snapshotId);
        rest = parsed;
      }
    }
    if (!rest) text = `${text.slice(0, i)}${snapshots.text(snapshotId)}${text.slice(i + 1)}`;
  }
  rest ??= JSON.parse(text) as unknown[];
  if (!Array.isArray(rest) || rest.length < 4) throw new Error('not what the codec writes');
  let i = 4;
  if (flags & AT_TEXT) at = rest[i++] as string;
  const correlationId = flags & CORRELATION ? (rest[i++] as string) : runId;
  const causationId = flags & CAUSATION ? (rest[i++] as string) : null;
  return {
    eventId: eventIdOf(eventIdColumnValue),
    runId,
    seq,
    type: rest[0] as string,
    schemaVersion: rest[1] as number,
    at: at as string,
    actor: rest[2] as EventEnvelope['actor'],
    data: rest[3],
    correlationId,
    causationId,
    prevHash,
    hash: hashOf(hashColumnValue),
  };
}

/** A workflow snapshot's stored form (deflated with the same dictionary), and back. */
export function encodeSnapshot(text: string): Buffer {
  return zip.deflate(Buffer.from(text, 'utf8'));
}

export function decodeSnapshot(body: Buffer): string {
  return inflate(body, 0);
}

function inflate(body: Buffer, from: number): string {
  return zip.inflateText(body, from);
}

/** Whether `e` has exactly the shape `decodeEvent` rebuilds from the compact form. */
function compactable(e: EventEnvelope): boolean {
  return (
    Object.keys(e).join(',') === ENVELOPE_KEYS &&
    typeof e.eventId === 'string' &&
    typeof e.runId === 'string' &&
    Number.isSafeInteger(e.seq) &&
    typeof e.type === 'string' &&
    typeof e.schemaVersion === 'number' &&
    Number.isFinite(e.schemaVersion) &&
    typeof e.at === 'string' &&
    e.actor !== undefined &&
    e.data !== undefined &&
    typeof e.correlationId === 'string' &&
    (e.causationId === null || typeof e.causationId === 'string') &&
    typeof e.prevHash === 'string' &&
    HEX64.test(e.prevHash) &&
    typeof e.hash === 'string' &&
    HEX64.test(e.hash)
  );
}

function writeVarint(buf: Buffer, off: number, value: number): number {
  while (value >= 0x80) {
    buf[off++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[off++] = value;
  return off;
}

function readVarint(buf: Buffer, off: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (off >= buf.length) throw new StoredEventError('a stored event ends inside its header');
    const b = buf[off++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, off];
    scale *= 128;
  }
}
