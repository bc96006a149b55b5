import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import {
  ChainVerifier,
  EVENT_TYPES,
  GENESIS_HASH,
  sealEvent,
  verifyChain,
  type EventEnvelope,
  type NewEvent,
} from '@parley/contracts';
import { SqliteEventStore } from './sqlite-event-store';
import { SqliteLog } from './sqlite-log';
import {
  CODEC_COMPACT_1,
  CODEC_VERBATIM_1,
  decodeEvent,
  encodeEvent,
  zlibHandlesReused,
} from './event-codec';
import { DICTIONARY_V1, DICTIONARY_V1_SHA256 } from './event-dictionary';
import { rawCodec } from './raw-deflate';

/**
 * Storage version 2 of the SQLite log (compact rows, deflate with a preset dictionary, workflow
 * snapshots stored once), on real SQLite files: every envelope reads back exactly as sealed, the
 * chains verify, event-id lookups work, damage and edits are still found, and a log of the first
 * schema (JSON text bodies) is migrated, or left as it was when the migration fails.
 */

const root = mkdtempSync(join(tmpdir(), 'parley-sqlite-v2-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = (): string => {
  const dir = join(root, `log-${++n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

const WORKFLOW = {
  name: 'refund-desk',
  description: 'A customer-service agent that can look up orders and refund them.',
  agents: [
    {
      name: 'refund-agent',
      model: 'offline',
      system: 'You are the refund agent of an online shop. Look up the order when needed. '.repeat(3),
      tools: ['process_refund', 'lookup_order'],
    },
  ],
  policies: { approvals: [], escalations: [] },
  pattern: 'single-agent',
  agent: 'refund-agent',
  maxSteps: 8,
};

/** Data for each event type, in the shapes the engine writes (the codec does not look at them). */
function dataFor(type: string, runId: string, i: number): unknown {
  const callId = randomUUID();
  switch (type) {
    case 'run.started':
      return { workflow: WORKFLOW, input: `Please refund $${100 + i} for order #M${i}`, requestedBy: 'maya' };
    case 'model-call.completed':
      return {
        callId,
        agent: 'refund-agent',
        purpose: 'reply',
        content: 'Grüße, 😀 "quoted" \\ back\u0001slash',
        toolCalls: [{ id: 'call_1', name: 'process_refund', arguments: { order_id: `M${i}`, amount: 1e21 } }],
        attempts: 1,
        usage: { promptTokens: 65, completionTokens: 10 },
      };
    case 'tool-call.requested':
      return {
        callId: `${callId}.0`,
        agent: 'refund-agent',
        tool: 'process_refund',
        args: { order_id: `M${i}`, amount: 425.5, nested: [null, true, -1, { '0': 'a', b: [] }] },
        argsHash: 'a'.repeat(64),
        idempotencyKey: `${runId}:${callId}.0`,
      };
    default:
      return { callId, note: `${type} #${i} of ${runId}`, list: [1, 2, 3], empty: {} };
  }
}

/** A sealed chain of every event type, in order. */
function chainOfEveryType(runId: string): EventEnvelope[] {
  let prevHash = GENESIS_HASH;
  return EVENT_TYPES.map((type, i) => {
    const sealed = sealEvent({
      eventId: randomUUID(),
      runId,
      seq: i + 1,
      type,
      schemaVersion: 1,
      at: new Date(Date.UTC(2026, 11, 4, 22, 0, i)).toISOString(),
      actor: { kind: 'system', id: 'parley' },
      data: dataFor(type, runId, i),
      correlationId: runId,
      causationId: null,
      prevHash,
    });
    prevHash = sealed.hash;
    return sealed;
  });
}

/** Envelopes off the usual path: each must still read back exactly. */
function unusualChain(runId: string): EventEnvelope[] {
  const base = (seq: number, prevHash: string): Omit<EventEnvelope, 'hash'> => ({
    eventId: randomUUID(),
    runId,
    seq,
    type: 'human-message.posted',
    schemaVersion: 2,
    at: '2026-12-04T22:00:00.000Z',
    actor: { kind: 'human', id: 'alice', role: 'participant' },
    data: { text: `message ${seq}` },
    correlationId: runId,
    causationId: null,
    prevHash,
  });
  const variants: Array<(e: Omit<EventEnvelope, 'hash'>) => Omit<EventEnvelope, 'hash'>> = [
    (e) => ({ ...e, correlationId: 'another-correlation', causationId: randomUUID() }),
    (e) => ({ ...e, at: '2026-12-04T22:00:00Z' }), // no milliseconds: kept as text
    (e) => ({ ...e, at: '+012026-12-04T22:00:00.000Z' }),
    (e) => ({ ...e, eventId: 'client-key-42' }), // not a UUID
    (e) => ({ ...e, eventId: randomUUID().toUpperCase() }),
    (e) => ({ ...e, data: { text: `the run ${runId} twice: ${runId}`, workflow: WORKFLOW } }),
    (e) => {
      // another member order: kept verbatim
      const { eventId, ...rest } = e;
      return { ...rest, eventId } as Omit<EventEnvelope, 'hash'>;
    },
    (e) => ({ ...e, extra: 'a member more' }) as Omit<EventEnvelope, 'hash'>,
  ];
  let prevHash = GENESIS_HASH;
  return variants.map((variant, i) => {
    const sealed = sealEvent(variant(base(i + 1, prevHash)));
    prevHash = sealed.hash;
    return sealed;
  });
}

const json = (events: EventEnvelope[]): string[] => events.map((e) => JSON.stringify(e));

describe('SQLite log, storage version 2', () => {
  it('the dictionary of version 1 is frozen (rows written with it need exactly these bytes)', () => {
    assert.equal(DICTIONARY_V1_SHA256, 'da9271f98427a6161d89542b639be93e1c17a4330fa960a4af67cb7cc3ee755e');
    assert.ok(
      DICTIONARY_V1.length > 2000 && DICTIONARY_V1.length < 32 * 1024,
      `${DICTIONARY_V1.length} bytes`,
    );
  });

  it('kept zlib handles are in use on this Node, and agree with zlib both ways', () => {
    assert.equal(zlibHandlesReused, true);
    const codec = rawCodec(DICTIONARY_V1);
    for (const size of [0, 1, 300, 70_000, 300_000]) {
      const input = Buffer.from(
        Array.from({ length: size }, (_, i) => String.fromCharCode(32 + ((i * 7919) % 90))).join(''),
      );
      const packed = codec.deflate(input);
      assert.deepEqual(zlib.inflateRawSync(packed, { dictionary: DICTIONARY_V1 }), input);
      assert.deepEqual(codec.inflate(zlib.deflateRawSync(input, { dictionary: DICTIONARY_V1 })), input);
    }
    assert.throws(() => codec.inflate(Buffer.from([0xff, 0xfe, 0xfd])));
    assert.deepEqual(
      codec.inflate(codec.deflate(Buffer.from('after an error'))),
      Buffer.from('after an error'),
    );
  });

  it('every event type, and envelopes off the usual path, read back exactly as sealed, by every read', async () => {
    const dir = newDir();
    const runs = [randomUUID(), randomUUID(), 'run-with-a-plain-id'];
    const written = new Map<string, EventEnvelope[]>();
    const log = new SqliteLog(join(dir, 'events.db'));
    try {
      for (const runId of runs) {
        const events = [...chainOfEveryType(runId)];
        log.insert(events);
        written.set(runId, events);
      }
      const odd = `odd-${randomUUID()}`;
      written.set(odd, unusualChain(odd));
      log.insert(written.get(odd)!);
      // the compact form where the shape allows it, verbatim where it does not
      const codecs = log.db
        .prepare<[], { codec: number; n: number }>(
          'SELECT unicode(substr(body, 1, 1)) AS codec, COUNT(*) AS n FROM events GROUP BY 1',
        )
        .all();
      assert.deepEqual(codecs.map((c) => c.codec).sort(), [CODEC_COMPACT_1, CODEC_VERBATIM_1]);
      // the workflow snapshot: once for all runs that carry it
      assert.equal(log.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM snapshots').get()!.n, 1);
    } finally {
      log.close();
    }
    const store = new SqliteEventStore({ dataDir: dir });
    try {
      const all = await store.readAll({ limit: 10_000 });
      const expected = [...written.values()].flat();
      assert.deepEqual(json(all.map((s) => s.event)), json(expected));
      for (const [runId, events] of written) {
        assert.deepEqual(json(await store.read(runId)), json(events));
        const streamed: EventEnvelope[] = [];
        for await (const e of store.stream(runId, { fromSeq: 3 })) streamed.push(e);
        assert.deepEqual(json(streamed), json(events.slice(2)));
        assert.equal(verifyChain(await store.read(runId)).ok, true, runId);
        assert.deepEqual(await store.head(runId), { seq: events.length, hash: events.at(-1)!.hash });
      }
    } finally {
      await store.close();
    }
  });

  it('an event id already stored is found (the append is a repeat: nothing written), for UUIDs and other ids', async () => {
    const dir = newDir();
    const store = new SqliteEventStore({ dataDir: dir });
    try {
      const runId = randomUUID();
      const first: NewEvent[] = [
        {
          type: 'human-message.posted',
          actor: { kind: 'human', id: 'alice' },
          data: { by: { id: 'alice', role: 'participant' }, text: 'a' },
          eventId: randomUUID(),
        },
        {
          type: 'human-message.posted',
          actor: { kind: 'human', id: 'alice' },
          data: { by: { id: 'alice', role: 'participant' }, text: 'b' },
          eventId: 'client-key-1',
        },
      ];
      const stored = await store.append(runId, 0, first);
      const again = await store.append(runId, 0, first);
      assert.deepEqual(json(again), json(stored));
      assert.equal((await store.head(runId))?.seq, 2);
      // the same ids in another run are that run's own
      const other = await store.append(randomUUID(), 0, first);
      assert.equal(other.length, 2);
      assert.notEqual(other[0].runId, runId);
    } finally {
      await store.close();
    }
  });

  it('a compact row re-encoded with an edited value is served, and fails its hash where it was edited', async () => {
    const dir = newDir();
    const runId = randomUUID();
    const events = chainOfEveryType(runId);
    const log = new SqliteLog(join(dir, 'events.db'));
    log.insert(events);
    log.close();
    // the edit: decode seq 11 (tool-call.requested), change the amount, encode it again, keep its hash
    const db = new Database(join(dir, 'events.db'));
    const seq = events.findIndex((e) => e.type === 'tool-call.requested') + 1;
    const row = db
      .prepare<[number], { event_id: Buffer; hash: Buffer; body: Buffer }>(
        'SELECT event_id, hash, body FROM events WHERE seq = ?',
      )
      .get(seq)!;
    const noSnapshots = { idFor: () => 0, text: () => '' };
    const event = decodeEvent(runId, seq, row.event_id, row.hash, row.body, noSnapshots);
    const edited = { ...event, data: { ...(event.data as object), args: { amount: 4250 } } };
    db.prepare('UPDATE events SET body = ? WHERE seq = ?').run(encodeEvent(edited, noSnapshots).body, seq);
    db.close();
    const store = new SqliteEventStore({ dataDir: dir });
    try {
      const verdict = verifyChain(await store.read(runId));
      assert.equal(verdict.ok, false);
      assert.equal(!verdict.ok && verdict.reason, 'edited');
      assert.equal(!verdict.ok && verdict.seq, seq);
    } finally {
      await store.close();
    }
  });

  it('a body edited by hand as JSON text is read as that text, and fails its hash', async () => {
    const dir = newDir();
    const runId = randomUUID();
    const events = chainOfEveryType(runId);
    const log = new SqliteLog(join(dir, 'events.db'));
    log.insert(events);
    log.close();
    const db = new Database(join(dir, 'events.db'));
    db.prepare('UPDATE events SET body = ? WHERE seq = 2').run(
      JSON.stringify({ ...events[1], type: 'run.failed' }),
    );
    db.close();
    const store = new SqliteEventStore({ dataDir: dir });
    try {
      const read = await store.read(runId);
      assert.equal(read[1].type, 'run.failed');
      const verdict = verifyChain(read);
      assert.equal(!verdict.ok && verdict.reason, 'edited');
    } finally {
      await store.close();
    }
  });
});

describe('a log of a storage version this code does not know', () => {
  it('is refused with a clear error, and left as it was', async () => {
    const dir = newDir();
    const store = new SqliteEventStore({ dataDir: dir });
    const runId = randomUUID();
    await store.append(runId, 0, [
      {
        type: 'human-message.posted',
        actor: { kind: 'human', id: 'alice' },
        data: { by: { id: 'alice', role: 'participant' }, text: 'kept' },
      },
    ]);
    await store.close();
    const db = new Database(join(dir, 'events.db'));
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'storage'").run();
    db.close();
    assert.throws(
      () => new SqliteEventStore({ dataDir: dir }),
      /storage version 3; this Parley reads version 2 \(a newer Parley wrote it\)/,
    );
    const raw = new Database(join(dir, 'events.db'), { readonly: true });
    try {
      assert.equal(raw.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()!.n, 1);
    } finally {
      raw.close();
    }
  });
});

/** The first schema, exactly as the code before storage version 2 wrote it. */
const FIRST_SCHEMA = `
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

function firstSchemaLog(
  file: string,
  runs: EventEnvelope[][],
  edit?: (body: string) => string,
): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(FIRST_SCHEMA);
  const insert = db.prepare(
    'INSERT INTO events (run_id, seq, type, hash, body) VALUES (@runId, @seq, @type, @hash, @body)',
  );
  for (const events of runs)
    for (const e of events)
      insert.run({
        runId: e.runId,
        seq: e.seq,
        type: e.type,
        hash: e.hash,
        body: edit ? edit(JSON.stringify(e)) : JSON.stringify(e),
      });
  db.prepare("INSERT INTO meta (key, value) VALUES ('kafka.topic', 'parley.events')").run();
  return db;
}

describe('a log of the first schema (JSON text bodies)', () => {
  it('is migrated when opened: every event reads back as it was, positions kept, edits still found, appends go on', async () => {
    const dir = newDir();
    const file = join(dir, 'events.db');
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const runs = [chainOfEveryType(a), chainOfEveryType(b), unusualChain(c)];
    const db = firstSchemaLog(file, runs);
    // a hand edit that stays valid JSON (the amount), and a body not in JSON.stringify's form
    db.prepare(
      "UPDATE events SET body = replace(body, '\"amount\":425.5', '\"amount\":4255') WHERE run_id = ? AND type = 'tool-call.requested'",
    ).run(b);
    db.prepare("UPDATE events SET body = ' ' || body WHERE run_id = ? AND seq = 1").run(c);
    // a deleted tail: AUTOINCREMENT's high-water mark is above the last position
    const last = db.prepare<[], { p: number }>('SELECT MAX(position) AS p FROM events').get()!.p;
    const extra = sealEvent({
      ...runs[2].at(-1)!,
      seq: runs[2].length + 1,
      prevHash: runs[2].at(-1)!.hash,
      eventId: randomUUID(),
    });
    db.prepare('INSERT INTO events (run_id, seq, type, hash, body) VALUES (?, ?, ?, ?, ?)').run(
      c,
      extra.seq,
      extra.type,
      extra.hash,
      JSON.stringify(extra),
    );
    db.prepare('DELETE FROM events WHERE position = ?').run(last + 1);
    const before = db
      .prepare<[], { position: number; body: string }>('SELECT position, body FROM events ORDER BY position')
      .all();
    db.close();

    const store = new SqliteEventStore({ dataDir: dir });
    try {
      const all = await store.readAll({ limit: 10_000 });
      assert.deepEqual(
        all.map((s) => [s.position, JSON.stringify(s.event)]),
        before.map((r) => [r.position, JSON.stringify(JSON.parse(r.body))]),
      );
      assert.equal(verifyChain(await store.read(a)).ok, true);
      const edited = verifyChain(await store.read(b));
      assert.equal(!edited.ok && edited.reason, 'edited');
      // the migrated log: storage version 2, no JSON text left
      const raw = new Database(file, { readonly: true });
      try {
        assert.equal(
          raw.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'storage'").get()?.value,
          '2',
        );
        assert.equal(
          raw.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'kafka.topic'").get()?.value,
          'parley.events',
        );
        assert.equal(
          raw
            .prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM events WHERE typeof(body) <> 'blob'")
            .get()!.n,
          0,
        );
        assert.equal(
          raw
            .prepare<[], { n: number }>(
              "SELECT COUNT(*) AS n FROM sqlite_schema WHERE name = 'events_event_id'",
            )
            .get()!.n,
          0,
        );
      } finally {
        raw.close();
      }
      // an event id of a migrated row is found: the repeat writes nothing
      const repeat = await store.append(a, 0, [
        {
          type: runs[0][0].type,
          actor: runs[0][0].actor,
          data: runs[0][0].data,
          eventId: runs[0][0].eventId,
        },
      ]);
      assert.deepEqual(json(repeat), json([runs[0][0]]));
      // a migrated run goes on: its chain verifies across old and new rows; positions are never reused
      const [next] = await store.append(a, runs[0].length, [
        {
          type: 'human-message.posted',
          actor: { kind: 'human', id: 'alice' },
          data: { by: { id: 'alice', role: 'participant' }, text: 'after' },
        },
      ]);
      assert.equal(next.prevHash, runs[0].at(-1)!.hash);
      assert.equal(verifyChain(await store.read(a)).ok, true);
      assert.ok((await store.lastPosition()) > last + 1, 'a new position is above the old high-water mark');
    } finally {
      await store.close();
    }
    // opened again: nothing left to migrate, same events
    const again = new SqliteEventStore({ dataDir: dir });
    try {
      assert.equal((await again.read(a)).length, runs[0].length + 1);
    } finally {
      await again.close();
    }
  });

  it('a migration that fails part way leaves the log exactly as it was (one transaction), and the next start migrates it', async () => {
    const dir = newDir();
    const file = join(dir, 'events.db');
    const [a, b] = [randomUUID(), 'boom'];
    const db = firstSchemaLog(file, [chainOfEveryType(a), chainOfEveryType(b)]);
    // a runs table made ahead, that refuses the second run: the migration fails after the first
    db.exec(
      "CREATE TABLE runs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE CHECK (run_id <> 'boom'))",
    );
    const before = db.prepare('SELECT * FROM events ORDER BY position').all();
    db.close();
    assert.throws(() => new SqliteEventStore({ dataDir: dir }), /CHECK constraint failed/);
    const raw = new Database(file);
    assert.deepEqual(raw.prepare('SELECT * FROM events ORDER BY position').all(), before);
    assert.equal(
      raw
        .prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_schema WHERE name = 'events_v2'")
        .get()!.n,
      0,
    );
    raw.exec('DROP TABLE runs');
    raw.close();
    const store = new SqliteEventStore({ dataDir: dir });
    try {
      for (const runId of [a, b]) {
        const verifier = new ChainVerifier();
        for (const e of await store.read(runId)) verifier.push(e);
        assert.equal(verifier.result().ok, true);
      }
    } finally {
      await store.close();
    }
  });
});
