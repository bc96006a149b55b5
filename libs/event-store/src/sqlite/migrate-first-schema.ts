import type Database from 'better-sqlite3';
import type { EventEnvelope } from '@parley/contracts';
import { eventIdColumn, hashColumn, verbatim, type EncodedRow } from './event-codec';

/** Rows migrated per query (memory: one page of bodies at a time). */
const PAGE = 1000;

/** The events table of storage version 2, under `name`. */
export function eventsTable(name: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${name} (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  run      INTEGER NOT NULL,
  seq      INTEGER NOT NULL,
  event_id BLOB    NOT NULL,
  hash     BLOB    NOT NULL,
  body     BLOB    NOT NULL,
  UNIQUE (run, seq)
);`;
}

/** The log is of the first schema: `events (position, run_id, seq, type, hash, body TEXT)`. */
export function isFirstSchema(db: Database.Database): boolean {
  return (
    db.prepare("SELECT 1 AS x FROM pragma_table_info('events') WHERE name = 'run_id'").get() !== undefined
  );
}

/**
 * Rewrites a log of the first schema (each event's JSON as TEXT, the event id read by a JSON
 * expression index) into storage version 2, in ONE transaction: a crash, or any error, leaves the
 * log as it was, and the next start migrates it again. Positions are kept (subscribers and anchors
 * refer to them), and so is AUTOINCREMENT's high-water mark. A body whose text is exactly
 * `JSON.stringify` of what it parses to, and that agrees with its row's run, seq and hash, is stored
 * compact; any other (edited by hand, damaged, not JSON) is kept verbatim, byte for byte: it reads
 * back, and fails its hash, exactly as before. Then VACUUM gives the freed pages back to the disk.
 *
 * `runs` and `snapshots` exist already (the caller creates them); `encode` stores a sealed event.
 */
export function migrateFirstSchema(db: Database.Database, encode: (e: EventEnvelope) => EncodedRow): void {
  const migrate = db.transaction(() => {
    db.exec(eventsTable('events_v2'));
    const highWater =
      db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get()?.seq ??
      0;
    const page = db.prepare<
      [number, number],
      { position: number; run_id: string; seq: number; hash: string; body: unknown }
    >('SELECT position, run_id, seq, hash, body FROM events WHERE position > ? ORDER BY position LIMIT ?');
    const runKey = db.prepare<[string], { id: number }>('SELECT id FROM runs WHERE run_id = ?');
    const insertRun = db.prepare<[string]>('INSERT INTO runs (run_id) VALUES (?)');
    const insert = db.prepare(
      'INSERT INTO events_v2 (position, run, seq, event_id, hash, body) VALUES (@position, @run, @seq, @eventId, @hash, @body)',
    );
    let after = 0;
    for (;;) {
      const rows = page.all(after, PAGE);
      for (const r of rows) {
        const run = runKey.get(r.run_id)?.id ?? Number(insertRun.run(r.run_id).lastInsertRowid);
        insert.run({ position: r.position, run, seq: r.seq, ...encodeLegacy(r, encode) });
        after = r.position;
      }
      if (rows.length < PAGE) break;
    }
    db.exec('DROP TABLE events');
    db.exec('ALTER TABLE events_v2 RENAME TO events');
    db.exec('CREATE INDEX IF NOT EXISTS events_by_event_id ON events (event_id)');
    const seq = db
      .prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
      .get()?.seq;
    if (seq === undefined) {
      if (highWater > 0)
        db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)").run(highWater);
    } else if (seq < highWater) {
      db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'").run(highWater);
    }
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('storage', '2') ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run();
  });
  migrate.immediate();
  db.exec('VACUUM');
}

function encodeLegacy(
  r: { run_id: string; seq: number; hash: string; body: unknown },
  encode: (e: EventEnvelope) => EncodedRow,
): EncodedRow {
  const text =
    typeof r.body === 'string' ? r.body : Buffer.isBuffer(r.body) ? r.body.toString('utf8') : String(r.body);
  let event: EventEnvelope | undefined;
  try {
    event = JSON.parse(text) as EventEnvelope;
  } catch {
    event = undefined;
  }
  if (
    event !== null &&
    typeof event === 'object' &&
    event.runId === r.run_id &&
    event.seq === r.seq &&
    event.hash === r.hash &&
    JSON.stringify(event) === text
  )
    return encode(event);
  const eventId = typeof event?.eventId === 'string' ? eventIdColumn(event.eventId) : '';
  return { eventId, hash: hashColumn(String(r.hash)), body: verbatim(text) };
}
