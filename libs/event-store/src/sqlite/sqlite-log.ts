import { Worker } from 'node:worker_threads';
import Database, { type Statement } from 'better-sqlite3';
import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import type { ReadAllOptions, StreamHead } from '../event-store.port';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   TEXT    NOT NULL,
  seq      INTEGER NOT NULL,
  type     TEXT    NOT NULL,
  hash     TEXT    NOT NULL,
  body     TEXT    NOT NULL,
  UNIQUE (run_id, seq)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_event_id ON events (run_id, json_extract(body, '$.eventId'));
`;

/** Event ids looked up in one query (`findByEventIds`). */
const EVENT_IDS_PER_QUERY = 16;

interface Row {
  position: number;
  body: string;
}

export type SqliteSync = 'full' | 'normal';

/**
 * The synchronous core of the embedded log: one SQLite table, WAL mode, one row per event
 * holding the envelope exactly as sealed. The SQLite adapter is this plus the port; the Kafka
 * adapter uses it as its local materialised store.
 */
export class SqliteLog {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly checkpointer?: Worker;
  /** `findByEventIds` statements, by number of ids. */
  private readonly byEventIdsStatements: Array<Statement<string[], Row>> = [];
  /** Made once: `db.transaction()` builds a new wrapper on every call. */
  private readonly applyOnceTransaction: (
    events: EventEnvelope[],
    meta?: Record<string, string>,
  ) => Array<{ position: number; event: EventEnvelope }>;

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
      this.checkpointer = new Worker(CHECKPOINTER, { eval: true, workerData: { file } });
      this.checkpointer.unref();
      this.checkpointer.on('error', () => undefined);
    }
    this.db.exec(SCHEMA);
    this.stmts = {
      head: this.db.prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1',
      ),
      insert: this.db.prepare(
        'INSERT INTO events (run_id, seq, type, hash, body) VALUES (@runId, @seq, @type, @hash, @body)',
      ),
      insertIgnore: this.db.prepare(
        'INSERT OR IGNORE INTO events (run_id, seq, type, hash, body) VALUES (@runId, @seq, @type, @hash, @body)',
      ),
      read: this.db.prepare<[string, number], Row>(
        'SELECT position, body FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq',
      ),
      readPage: this.db.prepare<[string, number, number], Row>(
        'SELECT position, body FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq LIMIT ?',
      ),
      readAll: this.db.prepare<[number, number], Row>(
        'SELECT position, body FROM events WHERE position > ? ORDER BY position LIMIT ?',
      ),
      lastPosition: this.db.prepare<[], { p: number | null }>('SELECT MAX(position) AS p FROM events'),
      getMeta: this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
    };
    this.applyOnceTransaction = this.db.transaction(
      (events: EventEnvelope[], meta?: Record<string, string>) => this.applyOnceInTransaction(events, meta),
    );
  }

  head(runId: string): StreamHead | undefined {
    return this.stmts.head.get(runId);
  }

  /** Insert in one transaction. `checkHead` runs inside it (the optimistic-concurrency check). */
  insert(events: EventEnvelope[], checkHead?: () => void): number[] {
    const run = this.db.transaction(() => {
      checkHead?.();
      return events.map((e) => Number(this.stmts.insert.run(row(e)).lastInsertRowid));
    });
    return run();
  }

  /** Insert rows inside a transaction the caller holds. */
  insertRows(events: EventEnvelope[]): number[] {
    return events.map((e) => Number(this.stmts.insert.run(row(e)).lastInsertRowid));
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
    /** The events' JSON when the caller has it already (`JSON.stringify(events[i])`). */
    bodies?: string[],
  ): Array<{ position: number; event: EventEnvelope }> {
    const applied: Array<{ position: number; event: EventEnvelope }> = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const info = this.stmts.insertIgnore.run(row(event, bodies?.[i]));
      if (info.changes === 1) applied.push({ position: Number(info.lastInsertRowid), event });
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
      const ids = eventIds.slice(i, i + EVENT_IDS_PER_QUERY);
      for (const r of this.byEventIds(ids.length).all(runId, ...ids))
        found.push(JSON.parse(r.body) as EventEnvelope);
    }
    return found;
  }

  private byEventIds(n: number): Statement<string[], Row> {
    let statement = this.byEventIdsStatements[n];
    if (!statement) {
      statement = this.byEventIdsStatements[n] = this.db.prepare<string[], Row>(
        `SELECT position, body FROM events WHERE run_id = ? AND json_extract(body, '$.eventId') IN (${Array(n).fill('?').join(', ')})`,
      );
    }
    return statement;
  }

  read(runId: string, fromSeq = 1): EventEnvelope[] {
    return this.stmts.read.all(runId, fromSeq).map((r) => JSON.parse(r.body) as EventEnvelope);
  }

  readPage(runId: string, fromSeq: number, limit: number): EventEnvelope[] {
    return this.stmts.readPage.all(runId, fromSeq, limit).map((r) => JSON.parse(r.body) as EventEnvelope);
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
    return rows.map((r) => ({ position: r.position, event: JSON.parse(r.body) as EventEnvelope }));
  }

  lastPosition(): number {
    return this.stmts.lastPosition.get()?.p ?? 0;
  }

  /** The runs with an event after `position` (the recently written ones). */
  runsSince(position: number): string[] {
    return this.db
      .prepare<[number], { run_id: string }>('SELECT DISTINCT run_id FROM events WHERE position > ?')
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

function row(
  e: EventEnvelope,
  body = JSON.stringify(e),
): { runId: string; seq: number; type: string; hash: string; body: string } {
  return { runId: e.runId, seq: e.seq, type: e.type, hash: e.hash, body };
}
