import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ParleyError, type NewEvent } from '@parley/contracts';
import { SqliteEventStore } from './sqlite-event-store';

/**
 * Storage faults on the SQLite log (issue "The log defends itself", findings 3 and 4), on real SQLite
 * files: a write the storage refuses is a coded 503 and the log turns unreachable until a probe write
 * succeeds; a damaged write-ahead log or database file is refused at open with a message and the way
 * to repair it, never served short. (Disk full on a real tmpfs: test/faults/sqlite-disk-full.)
 */

const root = mkdtempSync(join(tmpdir(), 'parley-sqlite-faults-'));
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

async function fill(store: SqliteEventStore, runs: number): Promise<void> {
  for (let r = 0; r < runs; r++) {
    await store.append(`run-${r}`, 0, [started(`run-${r}`)]);
    for (let i = 1; i <= 4; i++) await store.append(`run-${r}`, i, [message(`message ${i} of run ${r}`)]);
  }
}

const damaged = (error: unknown): boolean =>
  error instanceof ParleyError && error.code === 'EVENT_STORE.DAMAGED' && /To repair: /.test(error.message);

/** Garbage over `length` bytes at `offset` of `file`. */
function scribble(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  closeSync(fd);
}

describe('a write the storage refuses', () => {
  it('is a coded 503 naming the cause; the log is unreachable until a probe write succeeds; nothing of it is stored', async () => {
    const store = new SqliteEventStore({ dataDir: join(root, 'readonly'), probeMs: 50 });
    const changes: boolean[] = [];
    store.onReachabilityChange((c) => changes.push(c.reachable));
    try {
      await store.append('r1', 0, [started('r1')]);
      // the connection made read-only: SQLite itself refuses every write (SQLITE_READONLY)
      (store as unknown as { log: { db: Database.Database } }).log.db.pragma('query_only = ON');
      const refused = await store.append('r1', 1, [message('lost?')]).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(refused instanceof ParleyError, String(refused));
      assert.equal(refused.code, 'EVENT_STORE.UNAVAILABLE');
      assert.equal(refused.kind, 'unavailable');
      assert.match(String(refused.details?.cause), /^SQLITE_READONLY/);
      const status = store.reachabilityStatus();
      assert.equal(status.reachable, false);
      assert.match(status.lastError ?? '', /SQLITE_READONLY/);
      assert.throws(() => store.assertReachable(), /cannot be written since/);
      // refused at once meanwhile, without a write
      await assert.rejects(store.append('r2', 0, [started('r2')]), /EVENT_STORE|cannot be written/);
      assert.equal(store.probeWritable(), false);
      (store as unknown as { log: { db: Database.Database } }).log.db.pragma('query_only = OFF');
      const deadline = Date.now() + 5000;
      while (!store.reachabilityStatus().reachable && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(store.reachabilityStatus().reachable, true, 'the probe found the storage writable again');
      assert.deepEqual(changes, [false, true]);
      assert.equal(store.reachabilityStatus().outages, 1);
      assert.equal((await store.read('r1')).length, 1, 'the refused append stored nothing');
      await store.append('r1', 1, [message('after the fault')]);
      assert.equal((await store.head('r1'))?.seq, 2);
    } finally {
      await store.close();
    }
  });
});

describe('a damaged log is refused at open, never served short', () => {
  it('a write-ahead log with garbage in its middle: refused naming the frame (SQLite alone would drop the runs after it)', async () => {
    const dir = join(root, 'wal');
    const store = new SqliteEventStore({ dataDir: dir });
    const copy = join(root, 'wal-copy');
    mkdirSync(copy);
    try {
      await fill(store, 10);
      // the files as a SIGKILL leaves them: the WAL not yet checkpointed (its checkpointer ticks at 500 ms)
      copyFileSync(join(dir, 'events.db'), join(copy, 'events.db'));
      copyFileSync(join(dir, 'events.db-wal'), join(copy, 'events.db-wal'));
    } finally {
      await store.close();
    }
    const wal = join(copy, 'events.db-wal');
    const size = statSync(wal).size;
    assert.ok(size > 100_000, `the WAL holds the runs (${size} bytes)`);
    scribble(wal, Math.floor(size / 2), 512);
    // what plain SQLite makes of it: it opens, and runs are silently gone
    const probe = join(root, 'wal-probe');
    mkdirSync(probe);
    copyFileSync(join(copy, 'events.db'), join(probe, 'events.db'));
    copyFileSync(wal, join(probe, 'events.db-wal'));
    const raw = new Database(join(probe, 'events.db'));
    const survivors = raw.prepare<[], { n: number }>('SELECT COUNT(DISTINCT run) AS n FROM events').get()!.n;
    raw.close();
    assert.ok(survivors < 10, `plain SQLite serves ${survivors} of 10 runs`);
    assert.throws(
      () => new SqliteEventStore({ dataDir: copy }),
      (e: unknown) =>
        damaged(e) &&
        /frame \d+ of \d+ in .*events\.db-wal .* does not match its checksum/.test((e as Error).message),
    );
  });

  it('a database file with garbage inside events in several places: refused naming the run and seq', async () => {
    const dir = join(root, 'db-bodies');
    const store = new SqliteEventStore({ dataDir: dir });
    await fill(store, 10);
    await store.close(); // clean: everything is in events.db, no WAL
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
    assert.throws(
      () => new SqliteEventStore({ dataDir: dir }),
      (e: unknown) =>
        damaged(e) &&
        /run run-\d (does not verify at seq \d|seq \d: its stored event cannot be read)/.test(
          (e as Error).message,
        ),
    );
  });

  it('a database file with b-tree pages damaged in several places: refused with what SQLite found', async () => {
    const dir = join(root, 'db-pages');
    const store = new SqliteEventStore({ dataDir: dir });
    await fill(store, 10);
    await store.close();
    const file = join(dir, 'events.db');
    const pageSize = readFileSync(file).readUInt16BE(16);
    const pages = statSync(file).size / pageSize;
    assert.ok(pages > 8, `${pages} pages`);
    for (const page of [3, Math.floor(pages / 2), pages - 2]) scribble(file, page * pageSize, 16);
    assert.throws(() => new SqliteEventStore({ dataDir: dir }), damaged);
  });

  it('an intact log opens (after a crash too: its WAL replays)', async () => {
    const dir = join(root, 'intact');
    const store = new SqliteEventStore({ dataDir: dir });
    const copy = join(root, 'intact-copy');
    mkdirSync(copy);
    try {
      await fill(store, 3);
      copyFileSync(join(dir, 'events.db'), join(copy, 'events.db'));
      copyFileSync(join(dir, 'events.db-wal'), join(copy, 'events.db-wal'));
    } finally {
      await store.close();
    }
    const reopened = new SqliteEventStore({ dataDir: copy });
    try {
      assert.equal((await reopened.head('run-2'))?.seq, 5);
    } finally {
      await reopened.close();
    }
  });
});
