import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { CanonicalMemo, ChainVerifier, EventEnvelope } from '@parley/contracts';
import { decodeEvent, decodeSnapshot, type SnapshotStore } from './event-codec';

/*
 * The checks of a log file before it is served, as plain functions that say what is wrong (or
 * nothing): `integrity.ts` turns what they say into EVENT_STORE.DAMAGED, and `log-check-worker.ts`
 * runs them in a worker thread while the server loads. This module loads nothing at run time but
 * node:fs and the event codec (the worker loads it without the rest of the libraries): the chain
 * verifier is handed in. The checks read a log of either schema: the first (each event's JSON as
 * text, checked before the open migrates it) and storage version 2 (see event-codec.ts).
 */

/** The runs whose whole chains are verified at start-up: those written in the last this many events. */
export const RECENT_EVENTS = 20_000;

/** SQLite's error for a file that is no database or a malformed one. */
export function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * The write-ahead log, read before SQLite opens it: SQLite replays frames up to the first one whose
 * checksum fails and silently drops every later one, committed runs included. Frames after a bad
 * one that still carry the log's current salts are such committed frames (a torn last write from a
 * crash has none after it; frames of an older generation have other salts): the log is damaged.
 */
export function walProblem(file: string): string | undefined {
  const wal = `${file}-wal`;
  let size: number;
  try {
    size = statSync(wal).size;
  } catch {
    return undefined; // no WAL: a clean shutdown checkpointed and truncated it
  }
  if (size < 32) return undefined;
  const fd = openSync(wal, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    const magic = header.readUInt32BE(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683)
      return `${wal} does not begin with a write-ahead log header`;
    const bigEndian = (magic & 1) === 1;
    const pageSize = header.readUInt32BE(8);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
      return `${wal} names an impossible page size (${pageSize})`;
    let [s0, s1] = checksum(header.subarray(0, 24), 0, 0, bigEndian);
    if (s0 !== header.readUInt32BE(24) || s1 !== header.readUInt32BE(28))
      return `the header of ${wal} does not match its checksum`;
    const salt1 = header.readUInt32BE(16);
    const salt2 = header.readUInt32BE(20);
    const frameSize = 24 + pageSize;
    const frames = Math.floor((size - 32) / frameSize);
    const frame = Buffer.alloc(frameSize);
    let bad = -1;
    for (let i = 0; i < frames; i++) {
      readSync(fd, frame, 0, frameSize, 32 + i * frameSize);
      const current = frame.readUInt32BE(8) === salt1 && frame.readUInt32BE(12) === salt2;
      if (bad >= 0) {
        if (current)
          return (
            `frame ${bad + 1} of ${frames} in ${wal} (byte ${32 + bad * frameSize}) does not match its checksum, and ` +
            `frames after it hold later commits that SQLite would drop without a word`
          );
        continue;
      }
      if (!current) {
        bad = i; // the end of this generation's frames (or a damaged salt: frames after it say which)
        continue;
      }
      [s0, s1] = checksum(frame.subarray(0, 8), s0, s1, bigEndian);
      [s0, s1] = checksum(frame.subarray(24), s0, s1, bigEndian);
      if (s0 !== frame.readUInt32BE(16) || s1 !== frame.readUInt32BE(20)) bad = i;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** SQLite's WAL checksum: pairs of 32-bit words, cumulative, in the byte order the magic names. */
function checksum(data: Buffer, s0: number, s1: number, bigEndian: boolean): [number, number] {
  for (let i = 0; i + 8 <= data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * After opening: SQLite's own structural check (`PRAGMA quick_check`), then the whole hash chain of
 * every run written in the last RECENT_EVENTS events (a page damaged inside an event's JSON passes
 * quick_check; its hash does not). What is wrong, or undefined. Reading errors other than
 * corruption are thrown as they are.
 *
 * The chains are read in one ordered pass (one statement, run by run in seq order). A run that
 * verifies is done with; only a run that does not is read again, to tell damage to the bytes (an
 * event holding U+FFFD, what SQLite makes of bytes that are no UTF-8: the log is refused) from an
 * edit as text (valid JSON that no longer matches its hash: the run is served and quarantined by
 * the engine, never driven, and /health names it).
 */
export function openedLogProblem(
  db: Database.Database,
  Verifier: typeof ChainVerifier,
  recentEvents = RECENT_EVENTS,
): string | undefined {
  let problems: string[];
  try {
    problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
  } catch (error) {
    if (isCorruption(error)) return `quick_check fails: ${(error as Error).message}`;
    throw error;
  }
  if (problems.length !== 1 || problems[0] !== 'ok') return `quick_check says: ${problems.join('; ')}`;
  try {
    const table = db
      .prepare<[], { n: number }>(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'events'",
      )
      .get();
    if (!table?.n) return undefined; // a new log: nothing written yet
    const last = db.prepare<[], { p: number | null }>('SELECT MAX(position) AS p FROM events').get()?.p ?? 0;
    const events = storedEvents(db);
    let runId: string | undefined;
    let verifier = new Verifier(events.known);
    const finish = (): string | undefined => {
      if (runId === undefined) return undefined;
      const verdict = verifier.result();
      if (verdict.ok) return undefined;
      const undecodable = undecodableSeq(events, runId);
      if (undecodable === undefined) return undefined;
      return `run ${runId} does not verify at seq ${verdict.seq} (${verdict.message}), and its event at seq ${undecodable} holds bytes that are no text`;
    };
    for (const event of events.recent(Math.max(0, last - recentEvents))) {
      if (event.runId !== runId) {
        const problem = finish();
        if (problem) return problem;
        runId = event.runId;
        verifier = new Verifier(events.known);
      }
      verifier.push(event);
    }
    return finish();
  } catch (error) {
    if (isCorruption(error) || error instanceof SyntaxError)
      return `reading its events fails: ${(error as Error).message}`;
    throw error;
  }
}

/** The events of a log, read-only, whichever its schema. */
interface StoredEvents {
  /** Every event of the runs written after `position`, run by run in seq order. */
  recent(afterPosition: number): Iterable<EventEnvelope>;
  /** One run's events in seq order. */
  run(runId: string): Iterable<EventEnvelope>;
  /** The objects the events share (a workflow snapshot), for the verifier. */
  known: CanonicalMemo;
}

function storedEvents(db: Database.Database): StoredEvents {
  const known: CanonicalMemo = { shared: new WeakSet(), texts: new WeakMap() };
  const firstSchema =
    db.prepare("SELECT 1 AS x FROM pragma_table_info('events') WHERE name = 'run_id'").get() !== undefined;
  if (firstSchema) {
    const recent = db
      .prepare<[number], [string]>(
        'SELECT body FROM events WHERE run_id IN (SELECT run_id FROM events WHERE position > ?) ORDER BY run_id, seq',
      )
      .raw();
    const one = db.prepare<[string], [string]>('SELECT body FROM events WHERE run_id = ? ORDER BY seq').raw();
    const parse = function* (rows: Iterable<[string]>): Iterable<EventEnvelope> {
      for (const [body] of rows) yield JSON.parse(body) as EventEnvelope;
    };
    return { recent: (after) => parse(recent.iterate(after)), run: (id) => parse(one.iterate(id)), known };
  }
  const snapshot = db.prepare<[number], { body: Buffer }>('SELECT body FROM snapshots WHERE id = ?');
  const texts = new Map<number, string>();
  const objects = new Map<number, object>();
  const snapshots: SnapshotStore = {
    idFor: () => {
      throw new Error('the log is read-only here');
    },
    text: (id) => {
      let text = texts.get(id);
      if (text === undefined) {
        const row = snapshot.get(id);
        if (!row)
          throw new SyntaxError(`the workflow snapshot ${id} that a stored event refers to is missing`);
        text = decodeSnapshot(row.body);
        texts.set(id, text);
      }
      return text;
    },
    // one parsed workflow for all the runs that started with it, its canonical text written once
    shared: (id) => {
      let object = objects.get(id);
      if (object === undefined) {
        object = JSON.parse(snapshots.text(id)) as object;
        objects.set(id, object);
        known.shared.add(object);
      }
      return object;
    },
  };
  type Row = [
    runId: string,
    seq: number,
    eventId: Buffer | string,
    hash: Buffer | string,
    body: Buffer | string,
  ];
  const recent = db
    .prepare<[number], Row>(
      'SELECT r.run_id, e.seq, e.event_id, e.hash, e.body FROM events e CROSS JOIN runs r ON r.id = e.run ' +
        'WHERE e.run IN (SELECT run FROM events WHERE position > ?) ORDER BY e.run, e.seq',
    )
    .raw();
  const one = db
    .prepare<[string], Row>(
      'SELECT r.run_id, e.seq, e.event_id, e.hash, e.body FROM runs r CROSS JOIN events e ON e.run = r.id ' +
        'WHERE r.run_id = ? ORDER BY e.seq',
    )
    .raw();
  const decode = function* (rows: Iterable<Row>): Iterable<EventEnvelope> {
    for (const [runId, seq, eventId, hash, body] of rows)
      yield decodeEvent(runId, seq, eventId, hash, body, snapshots);
  };
  return { recent: (after) => decode(recent.iterate(after)), run: (id) => decode(one.iterate(id)), known };
}

/** The seq of the run's first event that holds U+FFFD (bytes that were no UTF-8), if any. */
function undecodableSeq(events: StoredEvents, runId: string): number | undefined {
  for (const event of events.run(runId)) if (JSON.stringify(event).includes('\uFFFD')) return event.seq;
  return undefined;
}
