import { Worker } from 'node:worker_threads';
import Database, { type Statement } from 'better-sqlite3';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import type { ReadAllOptions, StreamHead } from '../event-store.port';
import {
  StoredEventError,
  decodeEvent,
  decodeSnapshot,
  encodeEvent,
  encodeSnapshot,
  eventIdColumn,
  hashOf,
  type SnapshotStore,
} from './event-codec';
import { eventsTable, isFirstSchema, migrateFirstSchema } from './migrate-first-schema';

/**
 * The log's schema (storage version 2). A run's id is written once (`runs`), its events refer to
 * it by number; an event's row holds its event id (16 bytes for a UUID) and hash (32 bytes) as
 * columns, its body the rest in the compact encoding of event-codec.ts; a workflow snapshot is
 * stored once per distinct content (`snapshots`) and referred to by its id.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
const EVENTS_SCHEMA = `${eventsTable('events')}
CREATE INDEX IF NOT EXISTS events_by_event_id ON events (event_id);
`;

/** `meta` key of the storage version; absent in a log of the first schema (JSON text bodies). */
export const STORAGE_KEY = 'storage';
export const STORAGE_VERSION = '2';

/** Event ids looked up in one query (`findByEventIds`). */
const EVENT_IDS_PER_QUERY = 16;
/** Workflow snapshots kept decoded (a handful of workflows is the usual). */
const SNAPSHOT_CACHE = 256;

type Column = Buffer | string;

/**
 * The event id and hash columns as the reads select them: hex text for the compact (BLOB) forms,
 * `~` and the text for any other (see `eventIdOf`, `hashOf`). SQLite makes the hex: no Buffer per
 * column for JavaScript to allocate and collect.
 */
function columns(t = ''): string {
  return (
    `CASE typeof(${t}event_id) WHEN 'blob' THEN lower(hex(${t}event_id)) ELSE '~' || ${t}event_id END AS event_id, ` +
    `${hashColumnSql(t)}, ${t}body AS body`
  );
}
function hashColumnSql(t = ''): string {
  return `CASE typeof(${t}hash) WHEN 'blob' THEN lower(hex(${t}hash)) ELSE '~' || ${t}hash END AS hash`;
}
const COLUMNS = columns();

/** A row as the reads select it, as an array (better-sqlite3's raw mode: no object a row). */
type Row = [position: number, seq: number, eventId: Column, hash: Column, body: Buffer | string];
type GlobalRow = [
  position: number,
  runId: string,
  seq: number,
  eventId: Column,
  hash: Column,
  body: Buffer | string,
];

export type SqliteSync = 'full' | 'normal';

/**
 * The synchronous core of the embedded log: SQLite, WAL mode, one row per event (see SCHEMA and
 * event-codec.ts: what is read back is the envelope exactly as sealed). The SQLite adapter is this
 * plus the port; the Kafka adapter uses it as its local materialised store.
 */
export class SqliteLog {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly checkpointer?: Worker;
  /** `findByEventIds` statements, by number of ids. */
  private readonly byEventIdsStatements: Array<Statement<unknown[], Row>> = [];
  /** Made once: `db.transaction()` builds a new wrapper on every call. */
  private readonly applyOnceTransaction: (
    events: EventEnvelope[],
    meta?: Record<string, string>,
  ) => Array<{ position: number; event: EventEnvelope }>;
  /** Decoded workflow snapshots by id: only committed ones (an id rolled back can be given again). */
  private readonly snapshotCache = new Map<number, string>();
  private readonly snapshots: SnapshotStore;

  /**
   * `synchronous`: `full` (the default) fsyncs every commit, so an acknowledged append survives a
   * power cut; `normal` (WAL) may lose the last commits on power loss (never on a process crash):
   * for a copy that can be rebuilt, as Kafka mode's local store.
   */
  constructor(file: string, synchronous: SqliteSync = 'full') {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    if (file !== ':memory:') {
      // A WAL checkpoint writes pages back and fsyncs: 10-20 ms that would stall whichever append
      // triggers it. A worker thread with its own connection checkpoints in the background; the
      // writer only checkpoints itself if the WAL grows far beyond that (the worker is gone or behind).
      this.db.pragma('wal_autocheckpoint = 20000');
      // A checkpoint rewinds the WAL but leaves the file at its high-water mark: cut it back to
      // this bound each time one completes, so a write burst cannot leave a large WAL on disk.
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    }
    try {
      this.snapshots = this.openSchema(file);
    } catch (error) {
      this.db.close(); // nothing of it is kept open: a migration that failed is rolled back
      throw error;
    }
    if (file !== ':memory:') {
      this.checkpointer = new Worker(CHECKPOINTER, { eval: true, workerData: { file } });
      this.checkpointer.unref();
      this.checkpointer.on('error', () => undefined);
    }
    const RUN = '(SELECT id FROM runs WHERE run_id = ?)';
    this.stmts = {
      runKey: this.db.prepare<[string], { id: number }>('SELECT id FROM runs WHERE run_id = ?'),
      insertRun: this.db.prepare<[string]>('INSERT INTO runs (run_id) VALUES (?)'),
      head: this.db.prepare<[string], { seq: number; hash: Column }>(
        `SELECT seq, ${hashColumnSql()} FROM events WHERE run = ${RUN} ORDER BY seq DESC LIMIT 1`,
      ),
      hashAt: this.db.prepare<[string, number], { hash: Column }>(
        `SELECT ${hashColumnSql()} FROM events WHERE run = ${RUN} AND seq = ?`,
      ),
      insert: this.db.prepare(
        'INSERT INTO events (run, seq, event_id, hash, body) VALUES (@run, @seq, @eventId, @hash, @body)',
      ),
      insertIgnore: this.db.prepare(
        'INSERT OR IGNORE INTO events (run, seq, event_id, hash, body) VALUES (@run, @seq, @eventId, @hash, @body)',
      ),
      read: this.db
        .prepare<[string, number], Row>(
          `SELECT position, seq, ${COLUMNS} FROM events WHERE run = ${RUN} AND seq >= ? ORDER BY seq`,
        )
        .raw(true),
      readPage: this.db
        .prepare<[string, number, number], Row>(
          `SELECT position, seq, ${COLUMNS} FROM events WHERE run = ${RUN} AND seq >= ? ORDER BY seq LIMIT ?`,
        )
        .raw(true),
      readAll: this.db
        .prepare<[number, number], GlobalRow>(
          `SELECT e.position, r.run_id, e.seq, ${columns('e.')} FROM events e CROSS JOIN runs r ON r.id = e.run ` +
            'WHERE e.position > ? ORDER BY e.position LIMIT ?',
        )
        .raw(true),
      lastPosition: this.db.prepare<[], { p: number | null }>('SELECT MAX(position) AS p FROM events'),
      getMeta: this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      snapshot: this.db.prepare<[number], { body: Buffer }>('SELECT body FROM snapshots WHERE id = ?'),
    };
    this.applyOnceTransaction = this.db.transaction(
      (events: EventEnvelope[], meta?: Record<string, string>) => this.applyOnceInTransaction(events, meta),
    );
  }

  /**
   * The schema of storage version 2, made or checked: a log of another (later) version is refused
   * before anything is written to it; one of the first schema is migrated (one transaction).
   */
  private openSchema(file: string): SnapshotStore {
    const hasMeta = this.db
      .prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'meta'")
      .get();
    const storage = hasMeta ? this.getMetaRaw(STORAGE_KEY) : undefined;
    if (storage !== undefined && storage !== STORAGE_VERSION)
      throw new Error(
        `${file} holds a log of storage version ${storage}; this Parley reads version ${STORAGE_VERSION} (a newer Parley wrote it)`,
      );
    const firstSchema = isFirstSchema(this.db);
    this.db.exec(SCHEMA);
    const snapshotId = this.db.prepare<[Buffer], { id: number }>('SELECT id FROM snapshots WHERE hash = ?');
    const insertSnapshot = this.db.prepare<[Buffer, Buffer]>(
      'INSERT INTO snapshots (hash, body) VALUES (?, ?)',
    );
    const snapshots: SnapshotStore = {
      idFor: (hash, text) =>
        snapshotId.get(hash)?.id ?? Number(insertSnapshot.run(hash, encodeSnapshot(text)).lastInsertRowid),
      text: (id) => this.snapshotText(id),
    };
    if (firstSchema) migrateFirstSchema(this.db, (e) => encodeEvent(e, snapshots));
    this.db.exec(EVENTS_SCHEMA);
    this.db
      .prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('${STORAGE_KEY}', '${STORAGE_VERSION}')`)
      .run();
    return snapshots;
  }

  private getMetaRaw(key: string): string | undefined {
    return this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?').get(key)
      ?.value;
  }

  private snapshotText(id: number): string {
    const cached = this.snapshotCache.get(id);
    if (cached !== undefined) return cached;
    const row = this.stmts.snapshot.get(id);
    if (!row)
      throw new StoredEventError(`the workflow snapshot ${id} that a stored event refers to is missing`);
    const text = decodeSnapshot(row.body);
    if (!this.db.inTransaction) {
      if (this.snapshotCache.size >= SNAPSHOT_CACHE) this.snapshotCache.clear();
      this.snapshotCache.set(id, text);
    }
    return text;
  }

  /** The number of a run in `runs`, given one now if it has none (inside the caller's transaction). */
  private runKey(runId: string): number {
    return this.stmts.runKey.get(runId)?.id ?? Number(this.stmts.insertRun.run(runId).lastInsertRowid);
  }

  private rows(
    events: EventEnvelope[],
  ): Array<{ run: number; seq: number; eventId: Column; hash: Column; body: Buffer }> {
    let runId: string | undefined;
    let run = 0;
    return events.map((e) => {
      if (e.runId !== runId) {
        runId = e.runId;
        run = this.runKey(runId);
      }
      return { run, seq: e.seq, ...encodeEvent(e, this.snapshots) };
    });
  }

  private decode(runId: string, r: Row): EventEnvelope {
    return decodeEvent(runId, r[1], r[2], r[3], r[4], this.snapshots);
  }

  head(runId: string): StreamHead | undefined {
    const r = this.stmts.head.get(runId);
    return r && { seq: r.seq, hash: hashOf(r.hash) };
  }

  /** The stored hash of a run's event at `seq`. */
  hashAt(runId: string, seq: number): string | undefined {
    const r = this.stmts.hashAt.get(runId, seq);
    return r && hashOf(r.hash);
  }

  /** Insert in one transaction. `checkHead` runs inside it (the optimistic-concurrency check). */
  insert(events: EventEnvelope[], checkHead?: () => void): number[] {
    const run = this.db.transaction(() => {
      checkHead?.();
      return this.rows(events).map((r) => Number(this.stmts.insert.run(r).lastInsertRowid));
    });
    return run();
  }

  /** Insert rows inside a transaction the caller holds. */
  insertRows(events: EventEnvelope[]): number[] {
    return this.rows(events).map((r) => Number(this.stmts.insert.run(r).lastInsertRowid));
  }

  /** Apply events that may already be stored (a consumer re-reading its topic): each (run, seq) once. */
  applyOnce(
    events: EventEnvelope[],
    meta?: Record<string, string>,
  ): Array<{ position: number; event: EventEnvelope }> {
    return this.applyOnceTransaction(events, meta);
  }

  /** `applyOnce` inside a transaction the caller holds. */
  applyOnceInTransaction(
    events: EventEnvelope[],
    meta?: Record<string, string>,
  ): Array<{ position: number; event: EventEnvelope }> {
    const applied: Array<{ position: number; event: EventEnvelope }> = [];
    const rows = this.rows(events);
    for (let i = 0; i < events.length; i++) {
      const info = this.stmts.insertIgnore.run(rows[i]);
      if (info.changes === 1) applied.push({ position: Number(info.lastInsertRowid), event: events[i] });
    }
    if (meta) for (const key in meta) this.stmts.setMeta.run(key, meta[key]);
    return applied;
  }

  /**
   * The stored events of `runId` among `eventIds` (event-id idempotency): one indexed query for up
   * to EVENT_IDS_PER_QUERY ids (an append's ids usually fit in one).
   */
  findByEventIds(runId: string, eventIds: string[]): EventEnvelope[] {
    const found: EventEnvelope[] = [];
    for (let i = 0; i < eventIds.length; i += EVENT_IDS_PER_QUERY) {
      const ids = eventIds.slice(i, i + EVENT_IDS_PER_QUERY).map(eventIdColumn);
      for (const r of this.byEventIds(ids.length).all(runId, ...ids)) found.push(this.decode(runId, r));
    }
    return found;
  }

  private byEventIds(n: number): Statement<unknown[], Row> {
    let statement = this.byEventIdsStatements[n];
    if (!statement) {
      statement = this.byEventIdsStatements[n] = this.db.prepare<unknown[], Row>(
        `SELECT position, seq, ${COLUMNS} FROM events INDEXED BY events_by_event_id ` +
          `WHERE run = (SELECT id FROM runs WHERE run_id = ?) AND event_id IN (${Array(n).fill('?').join(', ')})`,
      );
      statement.raw(true);
    }
    return statement;
  }

  read(runId: string, fromSeq = 1): EventEnvelope[] {
    return this.stmts.read.all(runId, fromSeq).map((r) => this.decode(runId, r));
  }

  readPage(runId: string, fromSeq: number, limit: number): EventEnvelope[] {
    return this.stmts.readPage.all(runId, fromSeq, limit).map((r) => this.decode(runId, r));
  }

  /** A run's events from `fromSeq` on, a page at a time: memory stays flat however long the run. */
  *iterate(runId: string, fromSeq = 1, pageSize = 1000): Generator<EventEnvelope> {
    for (;;) {
      const page = this.readPage(runId, fromSeq, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      fromSeq = page[page.length - 1].seq + 1;
    }
  }

  readAll(options: ReadAllOptions = {}): StoredEvent[] {
    const rows = this.stmts.readAll.all(options.afterPosition ?? 0, options.limit ?? 1000);
    return rows.map((r) => ({
      position: r[0],
      event: decodeEvent(r[1], r[2], r[3], r[4], r[5], this.snapshots),
    }));
  }

  lastPosition(): number {
    return this.stmts.lastPosition.get()?.p ?? 0;
  }

  /** The runs with an event after `position` (the recently written ones). */
  runsSince(position: number): string[] {
    return this.db
      .prepare<[number], { run_id: string }>(
        'SELECT DISTINCT r.run_id FROM events e CROSS JOIN runs r ON r.id = e.run WHERE e.position > ?',
      )
      .all(Math.max(0, position))
      .map((r) => r.run_id);
  }

  /** A one-row write, committed (and fsynced as every commit): whether the storage takes writes. */
  probeWrite(): void {
    this.stmts.setMeta.run('write-probe', new Date().toISOString());
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  /**
   * Stops the background checkpointer, writes the whole WAL back into the database and truncates it
   * (a stopped server leaves no write-ahead log behind), then closes.
   */
  close(): void {
    void this.checkpointer?.terminate();
    if (!this.db.open) return;
    // The background checkpointer may be in the middle of its own checkpoint (it stops at its next
    // turn): SQLite then answers busy at once, without waiting. Try again for up to a second.
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let attempt = 0; attempt < 40; attempt++) {
      try {
        const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
        if (!result?.busy) break;
      } catch {
        // a reader still open: the WAL is checkpointed by the next open
        break;
      }
      Atomics.wait(pause, 0, 0, 25);
    }
    this.db.close();
  }

  /** The synchronous mode in force (`PRAGMA synchronous`: 1 NORMAL, 2 FULL). */
  synchronousMode(): 'full' | 'normal' | 'other' {
    const mode = this.db.pragma('synchronous', { simple: true });
    return mode === 2 ? 'full' : mode === 1 ? 'normal' : 'other';
  }
}

/** The WAL file is cut back to this size (bytes) after each checkpoint that rewinds it. */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** The background checkpointer: a PASSIVE checkpoint (never blocks the writer) every 500 ms. */
const CHECKPOINTER = `
const { workerData } = require('node:worker_threads');
const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* next time */ } }, 500);
`;
