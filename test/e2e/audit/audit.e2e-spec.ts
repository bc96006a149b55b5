import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalJson, verifyExportText } from '@parley/contracts';
import {
  ParleyProcess,
  REPO_ROOT,
  newSigningKey,
  runInStatus,
  signExport,
  waitFor,
  type HttpClient,
} from '@parley/testing';

async function exportText(api: HttpClient, runId: string): Promise<string> {
  const answer = await api.get(`/api/runs/${runId}/export`);
  assert.equal(answer.status, 200);
  assert.match(answer.headers.get('content-type') ?? '', /application\/x-ndjson/);
  return answer.body as string;
}

async function importText(api: HttpClient, text: string) {
  return api.post('/api/import', text, { 'content-type': 'application/x-ndjson' });
}

const fixtureKey = newSigningKey();

describe('audit and replay', () => {
  let server: ParleyProcess;
  let other: ParleyProcess;
  let refundRun: string;

  before(async () => {
    // `other` trusts `server`'s key, and a test key that signs the committed fixture below
    const key = newSigningKey();
    [server, other] = await Promise.all([
      ParleyProcess.start({ env: { PARLEY_SIGNING_KEY_FILE: key.file } }),
      ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: `${key.publicKey},${fixtureKey.publicKey}` } }),
    ]);
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $140 for order #R9' });
    refundRun = body.runId;
    const waiting = await runInStatus(server.client(), refundRun, 'waiting');
    await server.client('alice').post(`/api/requests/${waiting.pendingRequests[0].id}/decision`, {
      decision: 'approve',
      comment: 'checked the order',
    });
    await runInStatus(server.client(), refundRun, 'completed');
  });
  after(async () => Promise.all([server.dispose(), other.dispose()]));

  it('verifies a run: {ok, events, head}', async () => {
    const events = (await server.client().get(`/api/runs/${refundRun}/events`)).body.events;
    const verdict = (await server.client('victor').get(`/api/runs/${refundRun}/verify`)).body;
    assert.deepEqual(verdict, { ok: true, events: events.length, head: events[events.length - 1].hash });
    assert.equal((await server.client().get('/api/runs/nope/verify')).status, 404);
  });

  it('rebuilds the state at any seq from events alone, byte-identical every time', async () => {
    const events = (await server.client().get(`/api/runs/${refundRun}/events`)).body.events as Array<{
      seq: number;
      type: string;
    }>;
    const openedAt = events.find((e) => e.type === 'human-request.opened')!.seq;
    for (const e of events) {
      const a = await server.client().get(`/api/runs/${refundRun}/state?at=${e.seq}`);
      const b = await server.client().get(`/api/runs/${refundRun}/state?at=${e.seq}`);
      assert.equal(a.status, 200);
      assert.equal(JSON.stringify(a.body), JSON.stringify(b.body));
      assert.equal(a.body.at, e.seq);
    }
    const atOpen = (await server.client().get(`/api/runs/${refundRun}/state?at=${openedAt}`)).body.state;
    assert.equal(atOpen.status, 'waiting');
    assert.equal(atOpen.pendingRequests.length, 1);
    const first = (await server.client().get(`/api/runs/${refundRun}/state?at=1`)).body.state;
    assert.equal(first.status, 'running');
    assert.equal(first.transcript.length, 1);
    const latest = (await server.client().get(`/api/runs/${refundRun}/state`)).body.state;
    assert.deepEqual(
      latest,
      (await server.client().get(`/api/runs/${refundRun}`)).body,
      'replay at head equals the live view',
    );
    const beyond = await server.client().get(`/api/runs/${refundRun}/state?at=999`);
    assert.equal(beyond.status, 400);
    assert.equal(beyond.body.error.field, 'at');
  });

  it('shows who decided what, on which payload, and what the agent did next', async () => {
    const { requests } = (await server.client().get(`/api/runs/${refundRun}/audit`)).body;
    assert.equal(requests.length, 1);
    const [entry] = requests;
    const args = { order_id: 'R9', amount: 140, reason: 'Please refund $140 for order #R9' };
    assert.deepEqual(entry.shown.payload, { tool: 'process_refund', args });
    const expectedHash = createHash('sha256')
      .update(canonicalJson({ tool: 'process_refund', args }))
      .digest('hex');
    assert.equal(entry.shown.payloadHash, expectedHash, 'the hash of the tool arguments approved');
    assert.equal(entry.decisions.length, 1);
    assert.deepEqual(
      {
        by: entry.decisions[0].by,
        decision: entry.decisions[0].decision,
        comment: entry.decisions[0].comment,
        payloadHash: entry.decisions[0].payloadHash,
      },
      {
        by: { id: 'alice', role: 'approver' },
        decision: 'approve',
        comment: 'checked the order',
        payloadHash: expectedHash,
      },
    );
    assert.ok(Date.parse(entry.decisions[0].at) >= Date.parse(entry.opened.at));
    assert.deepEqual(
      entry.next.map((n: { type: string }) => n.type),
      ['tool-call.started', 'tool-call.completed', 'model-call.started'],
    );
  });

  it('exports NDJSON with a manifest that verifies offline, and detects tampering at the exact seq', async () => {
    const text = await exportText(server.client(), refundRun);
    const lines = text.trim().split('\n');
    const manifest = JSON.parse(lines[0]);
    assert.equal(manifest.kind, 'parley.export');
    assert.equal(manifest.runs[0].count, lines.length - 1);
    assert.equal(manifest.schemaVersions['human-message.posted'], 2);
    assert.deepEqual(
      verifyExportText(text).runs.map((r) => r.ok),
      [true],
    );

    // one byte changed in one event (seq 5)
    const edited = [...lines];
    const target = 5;
    edited[target] = edited[target].replace('"seq":5', '"seq":5').replace('approver', 'approvex');
    assert.notEqual(edited[target], lines[target]);
    const editedVerdict = verifyExportText(edited.join('\n')).runs[0];
    assert.deepEqual(
      [editedVerdict.ok, !editedVerdict.ok && editedVerdict.seq, !editedVerdict.ok && editedVerdict.reason],
      [false, target, 'edited'],
    );

    const deleted = lines.filter((_, i) => i !== 4);
    const deletedVerdict = verifyExportText(deleted.join('\n')).runs[0];
    assert.deepEqual(
      [
        deletedVerdict.ok,
        !deletedVerdict.ok && deletedVerdict.seq,
        !deletedVerdict.ok && deletedVerdict.reason,
      ],
      [false, 4, 'missing'],
    );

    const swapped = [...lines];
    [swapped[3], swapped[4]] = [swapped[4], swapped[3]];
    const swappedVerdict = verifyExportText(swapped.join('\n')).runs[0];
    assert.deepEqual(
      [
        swappedVerdict.ok,
        !swappedVerdict.ok && swappedVerdict.seq,
        !swappedVerdict.ok && swappedVerdict.reason,
      ],
      [false, 3, 'reordered'],
    );

    const truncated = lines.slice(0, -1);
    const truncatedVerdict = verifyExportText(truncated.join('\n')).runs[0];
    assert.equal(truncatedVerdict.ok, false);
    assert.equal(!truncatedVerdict.ok && truncatedVerdict.reason, 'count');
  });

  it('imports an export into another instance, which verifies and replays it the same; a tampered file imports nothing', async () => {
    const text = await exportText(server.client(), refundRun);
    const lines = text.trim().split('\n');
    const tampered = [...lines];
    tampered[3] = tampered[3].replace('refund', 'refunX');
    const refused = await importText(other.client(), tampered.join('\n'));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'IMPORT.NOT_VERIFIED');
    assert.equal((await other.client().get(`/api/runs/${refundRun}`)).status, 404, 'nothing imported');

    const imported = await other
      .client()
      .post('/api/import?note=offline%20audit', text, { 'content-type': 'application/x-ndjson' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.equal((await other.client().get(`/api/runs/${refundRun}/verify`)).body.ok, true);
    const count = lines.length - 1;
    const here = (await server.client().get(`/api/runs/${refundRun}/state`)).body;
    const there = (await other.client().get(`/api/runs/${refundRun}/state?at=${count}`)).body;
    assert.deepEqual(there, here);
    // the import is part of the run's history there: who brought it, why, from which head
    const last = (await other.client().get(`/api/runs/${refundRun}/events`)).body.events.at(-1);
    assert.equal(last.seq, count + 1);
    assert.equal(last.type, 'run.imported');
    assert.deepEqual(last.actor, { kind: 'human', id: 'root', role: 'admin' });
    assert.deepEqual(last.data, {
      by: { kind: 'human', id: 'root', role: 'admin' },
      note: 'offline audit',
      from: {
        head: JSON.parse(lines[0]).runs[0].head,
        count,
        exportedAt: JSON.parse(lines[0]).exportedAt,
        // the original signature is kept: the exporting server's key and its signed head
        signedBy: JSON.parse(lines[0]).signature.publicKey,
        signedHead: JSON.parse(lines[0]).runs[0].signed.at(-1),
      },
    });
    const again = await importText(other.client(), text);
    assert.equal(again.status, 409);
    assert.equal(
      (await other.client('alice').post('/api/import', text, { 'content-type': 'application/x-ndjson' }))
        .status,
      403,
    );
  });

  it('exports all runs in a time range', async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const answer = await server.client().get(`/api/export?from=${encodeURIComponent(from)}`);
    const verdict = verifyExportText(answer.body);
    assert.equal(verdict.ok, true);
    assert.ok(verdict.runs.some((r) => r.runId === refundRun));
    const bad = await server.client().get('/api/export?from=yesterday');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'from');
  });

  it('forks a debate from before a turn, with a human correction, and the fork continues live', async () => {
    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'debate', input: 'Agents should approve their own refunds' });
    const original = await runInStatus(server.client(), body.runId, 'waiting');
    const events = (await server.client().get(`/api/runs/${original.runId}/events`)).body.events as Array<{
      seq: number;
      type: string;
      hash: string;
    }>;
    const atSeq = events.findIndex((e) => e.type === 'model-call.completed') + 1; // after the first turn
    // forking is for approvers by default: carol, who started the debate, is a participant
    const runsBefore = (await server.client().get('/api/runs')).body.total;
    const refused = await server.client('carol').post(`/api/runs/${original.runId}/fork`, {
      atSeq,
      note: 'retry after the first turn',
      message: 'Please consider the audit trail.',
    });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'RUN.FORBIDDEN');
    assert.equal(
      (await server.client().get('/api/runs')).body.total,
      runsBefore,
      'a refused fork creates nothing',
    );
    const fork = await server.client('alice').post(`/api/runs/${original.runId}/fork`, {
      atSeq,
      note: 'retry after the first turn',
      message: 'Please consider the audit trail.',
    });
    assert.equal(fork.status, 201, JSON.stringify(fork.body));
    assert.deepEqual(fork.body.forkOf, {
      runId: original.runId,
      atSeq,
      head: events[atSeq - 1].hash,
      by: { kind: 'human', id: 'alice', role: 'approver' },
      note: 'retry after the first turn',
      askers: ['carol'],
    });
    const forked = await runInStatus(server.client(), fork.body.runId, 'waiting', 'completed');
    const forkEvents = (await server.client().get(`/api/runs/${fork.body.runId}/events`)).body
      .events as Array<{ seq: number; type: string; data: { forkOf?: unknown } }>;
    assert.deepEqual(
      forkEvents.slice(0, atSeq).map((e) => e.type),
      events.slice(0, atSeq).map((e) => e.type),
      'the fork begins with the original prefix',
    );
    assert.deepEqual(forkEvents[0].data.forkOf, fork.body.forkOf);
    assert.equal(forkEvents[atSeq].type, 'human-message.posted');
    assert.ok(forkEvents.length > atSeq + 1, 'the fork continued live');
    assert.ok(
      forked.transcript.some((t: { content: string }) => t.content === 'Please consider the audit trail.'),
    );
    assert.equal((await server.client().get(`/api/runs/${fork.body.runId}/verify`)).body.ok, true);
    const originalRequests = original.pendingRequests.map((r: { id: string }) => r.id);
    const forkRequests = (
      await server.client().get(`/api/requests?status=open&runId=${fork.body.runId}`)
    ).body.requests.map((r: { id: string }) => r.id);
    for (const id of forkRequests)
      assert.ok(!originalRequests.includes(id), 'a request id names one request of one run');
    for (const id of originalRequests)
      assert.equal((await server.client().get(`/api/requests/${id}`)).body.runId, original.runId);
    const badFork = await server
      .client('alice')
      .post(`/api/runs/${original.runId}/fork`, { atSeq: 9999, note: 'x' });
    assert.equal(badFork.status, 400);
    assert.equal(badFork.body.error.field, 'atSeq');
  });

  it('reads a log written in an older event shape (committed fixture, kept forever)', async () => {
    const text = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'logs', 'debate-v1.ndjson'), 'utf8');
    assert.equal(verifyExportText(text).ok, true, 'the fixture verifies offline');
    // the fixture is unsigned (it predates signed exports): an archive's owner signs it to import it
    assert.equal((await importText(other.client(), text)).body.error.code, 'IMPORT.UNSIGNED');
    const imported = await importText(other.client(), signExport(text, fixtureKey.file));
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.equal((await other.client().get('/api/runs/fixture-debate-v1/verify')).body.ok, true);
    const run = (await other.client().get('/api/runs/fixture-debate-v1')).body;
    assert.equal(run.status, 'cancelled');
    assert.deepEqual(
      run.transcript.map((t: { role: string; speaker: string; content: string }) => [
        t.role,
        t.speaker,
        t.content,
      ]),
      [
        ['human', 'carol', 'Should teams let agents refund customers on their own?'],
        ['agent', 'optimist', 'Yes: small refunds are safe to automate.'],
        ['human', 'carol', 'What about refunds over $100?'],
        ['agent', 'skeptic', 'Over $100 a human must approve.'],
      ],
    );
    const stored = (await other.client().get('/api/runs/fixture-debate-v1/events')).body.events;
    assert.equal(stored[4].schemaVersion, 1, 'stored as written');
    assert.deepEqual(stored[4].data, { author: 'carol', text: 'What about refunds over $100?' });
  });
});

describe('replay of every shipped example', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  after(async () => server.dispose());

  it('rebuilds each example run at every seq, deterministically, and the chain verifies', async () => {
    const workflows = (await server.client().get('/api/workflows')).body.workflows.map(
      (w: { name: string }) => w.name,
    );
    for (const workflow of workflows) {
      const { body } = await server.client('carol').post('/api/runs', {
        workflow,
        input: 'Refund $80 for order #X1; we launch product X; my login is broken',
      });
      await runInStatus(server.client(), body.runId, 'waiting', 'completed');
      const events = (await server.client().get(`/api/runs/${body.runId}/events`)).body.events as unknown[];
      assert.ok(events.length >= 3, workflow);
      for (let seq = 1; seq <= events.length; seq++) {
        const a = await server.client().get(`/api/runs/${body.runId}/state?at=${seq}`);
        const b = await server.client().get(`/api/runs/${body.runId}/state?at=${seq}`);
        assert.equal(JSON.stringify(a.body), JSON.stringify(b.body), `${workflow} at ${seq}`);
      }
      assert.equal((await server.client().get(`/api/runs/${body.runId}/verify`)).body.ok, true, workflow);
    }
  });
});

describe('export from Kafka, audit offline in SQLite', () => {
  it('a run exported from a Kafka-mode instance imports into a SQLite instance and verifies there', async () => {
    const brokers = process.env.KAFKA_BROKERS;
    assert.ok(brokers && brokers.includes(':'), 'KAFKA_BROKERS must point at the test broker');
    const prefix = `audit-${Math.random().toString(36).slice(2, 10)}`;
    const kafka = await ParleyProcess.start({
      eventLog: 'kafka',
      env: { KAFKA_BROKERS: brokers, PARLEY_INSTANCE_ID: prefix, PARLEY_KAFKA_TOPIC_PREFIX: prefix },
    });
    const kafkaKey = (await kafka.client(null).get('/.well-known/parley-signing-key')).body.publicKey;
    const sqlite = await ParleyProcess.start({ env: { PARLEY_TRUSTED_KEYS: kafkaKey } });
    try {
      const { body } = await kafka
        .client('carol')
        .post('/api/runs', { workflow: 'content-pipeline', input: 'Auditing across logs' });
      const waiting = await runInStatus(kafka.client(), body.runId, 'waiting');
      await kafka
        .client('alice')
        .post(`/api/requests/${waiting.pendingRequests[0].id}/decision`, { decision: 'approve' });
      await waitFor('the second review', async () => {
        const run = (await kafka.client().get(`/api/runs/${body.runId}`)).body;
        return run.status === 'waiting' && run.pendingRequests[0].id !== waiting.pendingRequests[0].id;
      });
      const text = await exportText(kafka.client(), body.runId);
      assert.equal(verifyExportText(text).ok, true);
      const imported = await importText(sqlite.client(), text);
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      assert.equal((await sqlite.client().get('/health')).body.eventLog, 'sqlite');
      assert.equal((await sqlite.client().get(`/api/runs/${body.runId}/verify`)).body.ok, true);
      // the same state at the exported head (the import itself is the next event there)
      const exported = text.trim().split('\n').length - 1;
      assert.deepEqual(
        (await sqlite.client().get(`/api/runs/${body.runId}/state?at=${exported}`)).body,
        (await kafka.client().get(`/api/runs/${body.runId}/state`)).body,
      );
      const audit = (await sqlite.client().get(`/api/runs/${body.runId}/audit`)).body.requests;
      assert.equal(audit[0].decisions[0].by.id, 'alice');
    } finally {
      await Promise.all([kafka.dispose(), sqlite.dispose()]);
    }
  });
});
