import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { SqliteEventStore } from '@parley/event-store';
import { ParleyProcess } from '@parley/testing';
import Database from 'better-sqlite3';

/**
 * The server process refuses a damaged SQLite log at start-up. It checks the log (its write-ahead
 * log, SQLite's structure, the chains of the recently written runs) in a worker thread while the rest
 * of the server loads, and opens it only once the check passed: a damaged log still stops it with
 * EVENT_STORE.DAMAGED and the way to repair it, before it serves anything (it never listens).
 */

const root = mkdtempSync(join(tmpdir(), 'parley-startup-integrity-'));
after(() => rmSync(root, { recursive: true, force: true }));

const started = (runId: string): NewEvent => ({
  type: 'run.started',
  actor: { kind: 'human', id: 'alice' },
  data: {
    workflow: {
      name: 'w',
      pattern: 'single-agent',
      agent: 'a',
      agents: [{ name: 'a', system: 's', model: 'offline', tools: [] }],
      policies: { approvals: [], escalations: [] },
      maxSteps: 5,
    },
    input: `run ${runId} ${'x'.repeat(2000)}`,
    requestedBy: 'alice',
  },
});
const message = (text: string): NewEvent => ({
  type: 'human-message.posted',
  actor: { kind: 'human', id: 'alice' },
  data: { by: { id: 'alice', role: 'participant' }, text },
});

/** A data folder holding `runs` runs of 5 events each; its files as a SIGKILL leaves them when `crashed`. */
async function folder(name: string, runs: number, crashed = false): Promise<string> {
  const dir = join(root, name);
  const store = new SqliteEventStore({ dataDir: dir });
  const copy = join(root, `${name}-copy`);
  try {
    for (let r = 0; r < runs; r++) {
      await store.append(`run-${r}`, 0, [started(`run-${r}`)]);
      for (let i = 1; i <= 4; i++) await store.append(`run-${r}`, i, [message(`message ${i} of run ${r}`)]);
    }
    if (crashed) {
      mkdirSync(copy);
      copyFileSync(join(dir, 'events.db'), join(copy, 'events.db'));
      copyFileSync(join(dir, 'events.db-wal'), join(copy, 'events.db-wal'));
    }
  } finally {
    await store.close();
  }
  return crashed ? copy : dir;
}

/** Garbage over `length` bytes at `offset` of `file`. */
function scribble(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  closeSync(fd);
}

/** The server's start on `dataDir`: '' when it started (it is stopped again), else why it did not. */
async function refusal(dataDir: string): Promise<string> {
  return ParleyProcess.start({ dataDir }).then(
    (server) => server.stop().then(() => ''),
    (error: Error) => error.message,
  );
}

describe('a new server process on a damaged SQLite log', () => {
  it('refuses a log with garbage inside events, naming the run and seq (the chain check)', async () => {
    const dir = await folder('bodies', 10);
    const file = join(dir, 'events.db');
    // where the stored (deflated) bodies of the messages are in the file
    const raw = new Database(file, { readonly: true });
    const bodies = raw
      .prepare<[], { body: Buffer }>('SELECT body FROM events WHERE seq > 1 ORDER BY position')
      .all()
      .map((r) => r.body);
    raw.close();
    const bytes = readFileSync(file);
    const found = bodies.map((body) => ({ body, at: bytes.indexOf(body) })).filter((b) => b.at >= 0);
    assert.ok(found.length >= 30, `${found.length} bodies found in the file`);
    // 9 bytes in the middle of three of them (past the header: in the deflated part)
    for (const i of [5, 15, 25]) scribble(file, found[i].at + Math.floor(found[i].body.length / 2), 9);
    const why = await refusal(dir);
    assert.match(
      why,
      /cannot start: the event log .*events\.db is damaged: (run run-\d does not verify at seq \d|reading its events fails: run run-\d seq \d: its stored event cannot be read)/,
    );
    assert.match(why, /To repair: /);
    assert.doesNotMatch(why, /Parley listening/, 'it never listened');
  });

  it('refuses a log with damaged b-tree pages (what SQLite found)', async () => {
    const dir = await folder('pages', 10);
    const file = join(dir, 'events.db');
    const pageSize = readFileSync(file).readUInt16BE(16);
    const pages = statSync(file).size / pageSize;
    for (const page of [3, Math.floor(pages / 2), pages - 2]) scribble(file, page * pageSize, 16);
    const why = await refusal(dir);
    assert.match(why, /cannot start: the event log .*events\.db is damaged: /);
    assert.match(why, /To repair: /);
    assert.doesNotMatch(why, /Parley listening/);
  });

  it('refuses a write-ahead log with garbage in its middle, naming the frame', async () => {
    const dir = await folder('wal', 10, true);
    const wal = join(dir, 'events.db-wal');
    scribble(wal, Math.floor(statSync(wal).size / 2), 512);
    const why = await refusal(dir);
    assert.match(
      why,
      /cannot start: the event log .*events\.db is damaged: frame \d+ of \d+ in .*events\.db-wal/,
    );
  });

  it('serves an intact log, after a crash too (its WAL replays): every run is there', async () => {
    const dir = await folder('intact', 3, true);
    const server = await ParleyProcess.start({ dataDir: dir });
    try {
      const health = await server.client(null).get('/health');
      assert.equal(health.status, 200);
      // its 15 events, and what the engine appended since to the 3 runs it resumed
      assert.ok((health.body as { lastPosition: number }).lastPosition >= 15);
      const runs = await server.client('admin').get<{ total: number }>('/api/runs');
      assert.equal(runs.body.total, 3);
    } finally {
      await server.stop();
    }
  });
});

/** The first schema of the log (JSON text bodies), as Parley wrote it before storage version 2. */
const FIRST_SCHEMA = `
CREATE TABLE events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id   TEXT    NOT NULL,
  seq      INTEGER NOT NULL,
  type     TEXT    NOT NULL,
  hash     TEXT    NOT NULL,
  body     TEXT    NOT NULL,
  UNIQUE (run_id, seq)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX events_event_id ON events (run_id, json_extract(body, '$.eventId'));
`;

/** A data folder holding the runs of `folder(name, runs)` in a log of the first schema. */
async function firstSchemaFolder(name: string, runs: number): Promise<string> {
  const source = await folder(`${name}-source`, runs);
  const store = new SqliteEventStore({ dataDir: source });
  const events = (await store.readAll({ limit: 10_000 })).map((s) => s.event);
  await store.close();
  const dir = join(root, name);
  mkdirSync(dir);
  const db = new Database(join(dir, 'events.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.exec(FIRST_SCHEMA);
    const insert = db.prepare('INSERT INTO events (run_id, seq, type, hash, body) VALUES (?, ?, ?, ?, ?)');
    for (const e of events) insert.run(e.runId, e.seq, e.type, e.hash, JSON.stringify(e));
  } finally {
    db.close();
  }
  return dir;
}

describe('a new server process on a log of the first schema', () => {
  it('checks it as it is, then migrates and serves it: every run is there', async () => {
    const dir = await firstSchemaFolder('first-schema', 4);
    const server = await ParleyProcess.start({ dataDir: dir });
    try {
      const runs = await server.client('admin').get<{ total: number }>('/api/runs');
      assert.equal(runs.body.total, 4);
    } finally {
      await server.stop();
    }
    const db = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')").all();
      assert.ok(!columns.some((c) => c.name === 'run_id'), 'the log is in storage version 2 now');
    } finally {
      db.close();
    }
  });

  it('refuses one with bytes that are no text inside an event, before migrating it', async () => {
    const dir = await firstSchemaFolder('first-schema-damaged', 10);
    const file = join(dir, 'events.db');
    const text = readFileSync(file).toString('latin1');
    const at = [...text.matchAll(/message \d of run \d/g)].map((m) => m.index!);
    assert.ok(at.length >= 30, `${at.length} messages found in the file`);
    for (const i of [5, 15, 25]) scribble(file, at[i], 9);
    const why = await refusal(dir);
    assert.match(
      why,
      /cannot start: the event log .*events\.db is damaged: run run-\d does not verify at seq \d/,
    );
    const db = new Database(file, { readonly: true });
    try {
      const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('events')").all();
      assert.ok(
        columns.some((c) => c.name === 'run_id'),
        'the log was left in its first schema',
      );
    } finally {
      db.close();
    }
  });
});
