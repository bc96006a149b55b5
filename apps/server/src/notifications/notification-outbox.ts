import Database from 'better-sqlite3';
import { join } from 'node:path';

export interface Delivery {
  id: number;
  target: string;
  body: string;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  lastError: string | null;
  nextAt: number;
  createdAt: string;
  deliveredAt: string | null;
}

/**
 * The outbox of notifications: rows written in the same transaction as the cursor of the log
 * position they come from, so a crash neither loses a notification nor invents one. Delivery
 * state (attempts, last error) is kept for operators.
 *
 * Most events notify nobody. For those the cursor only moves in memory and is written every
 * CURSOR_WRITE_EVERY events (and on close): after a crash the notifier reads those few events of
 * the log again, and they still notify nobody. So the log's subscribers never wait for a commit
 * here on an event without a notification (it was one fsync per event, on the event loop).
 * `synchronous = FULL` by default (PARLEY_SQLITE_SYNC): a delivery once enqueued survives a power
 * cut. With `normal`, a power cut may drop the last commits, rows and cursor together, and the
 * notifier then reads those events of the log again.
 */
export class NotificationOutbox {
  private readonly db: Database.Database;
  private statements?: { insert: Database.Statement; cursor: Database.Statement };
  /** The last position enqueued, and the last one written to the cursor table. */
  private cursorInMemory = 0;
  private cursorWritten = 0;

  constructor(dataDir: string, synchronous: 'full' | 'normal' = 'full') {
    this.db = new Database(dataDir === ':memory:' ? ':memory:' : join(dataDir, 'notifications.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', last_error TEXT,
        next_at INTEGER NOT NULL, created_at TEXT NOT NULL, delivered_at TEXT);
      CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
      CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL);`);
    this.cursorWritten = this.cursorInMemory = this.position();
  }

  position(): number {
    return (
      this.db.prepare<[], { position: number }>('SELECT position FROM cursor WHERE id = 1').get()?.position ??
      0
    );
  }

  enqueue(position: number, rows: Array<{ target: string; body: string }>, now: Date): void {
    this.cursorInMemory = position;
    if (rows.length > 0 || position - this.cursorWritten >= CURSOR_WRITE_EVERY)
      this.write(position, rows, now);
  }

  /** Write the cursor if it moved in memory only (on close; it is also written every CURSOR_WRITE_EVERY events). */
  saveCursor(): void {
    if (this.cursorInMemory > this.cursorWritten && this.db.open)
      this.write(this.cursorInMemory, [], new Date());
  }

  private write(position: number, rows: Array<{ target: string; body: string }>, now: Date): void {
    this.statements ??= {
      insert: this.db.prepare(
        'INSERT INTO deliveries (target, body, next_at, created_at) VALUES (?, ?, ?, ?)',
      ),
      cursor: this.db.prepare(
        'INSERT INTO cursor (id, position) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET position = excluded.position',
      ),
    };
    const { insert, cursor } = this.statements;
    this.db.transaction(() => {
      for (const row of rows) insert.run(row.target, row.body, now.getTime(), now.toISOString());
      cursor.run(position);
    })();
    this.cursorWritten = position;
  }

  due(now: number, limit = 50): Delivery[] {
    return this.db
      .prepare<[number, number], Delivery>(
        `SELECT ${COLUMNS} FROM deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT ?`,
      )
      .all(now, limit);
  }

  nextDueAt(): number | undefined {
    return (
      this.db
        .prepare<[], { n: number | null }>(
          "SELECT MIN(next_at) AS n FROM deliveries WHERE status = 'pending'",
        )
        .get()?.n ?? undefined
    );
  }

  delivered(id: number, now: Date): void {
    this.db
      .prepare(
        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
      )
      .run(now.toISOString(), id);
  }

  retry(id: number, error: string, nextAt: number, giveUp: boolean): void {
    this.db
      .prepare(
        'UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_at = ?, status = ? WHERE id = ?',
      )
      .run(error, nextAt, giveUp ? 'failed' : 'pending', id);
  }

  list(status?: string, limit = 200): Delivery[] {
    return status
      ? this.db
          .prepare<[string, number], Delivery>(
            `SELECT ${COLUMNS} FROM deliveries WHERE status = ? ORDER BY id DESC LIMIT ?`,
          )
          .all(status, limit)
      : this.db
          .prepare<[number], Delivery>(`SELECT ${COLUMNS} FROM deliveries ORDER BY id DESC LIMIT ?`)
          .all(limit);
  }

  close(): void {
    this.saveCursor();
    if (this.db.open) this.db.close();
  }
}

/** Events without a notification between two writes of the cursor (see NotificationOutbox). */
const CURSOR_WRITE_EVERY = 1000;

const COLUMNS =
  'id, target, body, attempts, status, last_error AS lastError, next_at AS nextAt, created_at AS createdAt, delivered_at AS deliveredAt';
