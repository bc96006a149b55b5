import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GENESIS_HASH, sealEvent, type EventEnvelope } from '@parley/contracts';
import { SqliteLog } from '@parley/event-store';
import { ParleyProcess, REPO_ROOT, signExport, waitFor, type HttpClient } from '@parley/testing';
import { events, getRun, waitForRequest, waitForStatus, type Envelope } from '../patterns/helpers';

/**
 * Off the straight path, a human can no longer be bypassed (issue "No path around a human"): each
 * test is one finding, over real HTTP against a real server process, on the shipped refund desk.
 */

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'workflows');

async function refundsFor(
  api: HttpClient,
  orderId: string,
): Promise<Array<{ amount: number; runId: string }>> {
  const all = (await api.get('/api/refunds')).body.refunds as Array<{
    orderId: string;
    amount: number;
    runId: string;
  }>;
  return all.filter((r) => r.orderId === orderId || r.orderId === orderId.replace('#', ''));
}

async function start(api: HttpClient, workflow: string, input: string): Promise<string> {
  const answer = await api.post('/api/runs', { workflow, input });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.runId;
}

describe('no path around a human', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  after(async () => server.dispose());

  it('finding 1: a fork at the seq of a gated call opens the gate again instead of paying (the rejection stands in the original)', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $150 for order #F101');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    const no = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'reject', comment: 'Out of warranty' });
    assert.equal(no.status, 200, JSON.stringify(no.body));
    await waitForStatus(server.client(), runId, 'completed');
    const log = await events(server.client(), runId);
    const atSeq = log.find((e) => e.type === 'tool-call.requested')!.seq;
    assert.equal(log[atSeq].type, 'human-request.opened', 'the gate is in the same append, after the call');

    const fork = await server.client('alice').post(`/api/runs/${runId}/fork`, { atSeq, note: 'try again' });
    assert.equal(fork.status, 201, JSON.stringify(fork.body));
    const gated = await waitForRequest(server.client(), fork.body.runId, (r) => r.kind === 'approval');
    assert.deepEqual(gated.request.payload, {
      tool: 'process_refund',
      args: { order_id: 'F101', amount: 150, reason: 'Please refund $150 for order #F101' },
    });
    assert.deepEqual(await refundsFor(server.client(), 'F101'), [], 'nothing was paid, in either run');
    // four-eyes holds in the fork against its forker too (finding 9)
    const own = await server.client('alice').post(`/api/requests/${gated.request.id}/decision`, {
      decision: 'approve',
      payloadHash: gated.request.payloadHash,
    });
    assert.equal(own.status, 403);
    assert.equal(own.body.error.code, 'REQUEST.FOUR_EYES');
  });

  it("finding 2: a fork's run.started names who forked, from which run and seq, and the note", async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $40 for order #F201');
    await waitForStatus(server.client(), runId, 'completed');
    const fork = await server
      .client('bob')
      .post(`/api/runs/${runId}/fork`, { atSeq: 1, note: 'replay for the audit' });
    assert.equal(fork.status, 201, JSON.stringify(fork.body));
    const [started] = await events(server.client(), fork.body.runId);
    assert.deepEqual(started.actor, { kind: 'human', id: 'bob', role: 'approver' });
    assert.equal(started.data.requestedBy, 'bob');
    assert.deepEqual(started.data.forkOf, {
      runId,
      atSeq: 1,
      head: (await events(server.client(), runId))[0].hash,
      by: { kind: 'human', id: 'bob', role: 'approver' },
      note: 'replay for the audit',
      askers: ['carol'],
    });
    assert.deepEqual(fork.body.forkOf, started.data.forkOf);
  });

  it('finding 9: an approver who forks a run and asks for $450 in it may not approve that $450; another approver may, and it is paid once', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $40 for order #F901');
    await waitForStatus(server.client(), runId, 'completed');
    const fork = await server.client('alice').post(`/api/runs/${runId}/fork`, {
      atSeq: 1,
      note: 'the customer asked for more',
      message: 'Please refund $450 for order #F901',
    });
    assert.equal(fork.status, 201, JSON.stringify(fork.body));
    const { request } = await waitForRequest(server.client(), fork.body.runId, (r) => r.kind === 'approval');
    assert.equal((request.payload as { args: { amount: number } }).args.amount, 450);
    const own = await server.client('alice').post(`/api/requests/${request.id}/decision`, {
      decision: 'approve',
      payloadHash: request.payloadHash,
    });
    assert.equal(own.status, 403, JSON.stringify(own.body));
    assert.equal(own.body.error.code, 'REQUEST.FOUR_EYES');
    const starter = await server.client('carol').post(`/api/requests/${request.id}/decision`, {
      decision: 'approve',
      payloadHash: request.payloadHash,
    });
    assert.equal(starter.status, 403, 'the original starter is not an approver, and asked too');
    const other = await server.client('bob').post(`/api/requests/${request.id}/decision`, {
      decision: 'approve',
      payloadHash: request.payloadHash,
    });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    await waitForStatus(server.client(), fork.body.runId, 'completed');
    assert.deepEqual(
      (await refundsFor(server.client(), 'F901')).map((r) => [r.amount, r.runId]),
      [
        [40, runId],
        [450, fork.body.runId],
      ],
    );
  });

  it("finding 3: an approver's edit past a stricter rule opens that rule's request; the editor may not approve it", async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $140 for order #E301');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    const edit = await server.client('alice').post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: { args: { ...request.payload.args, amount: 5000 } },
      payloadHash: request.payloadHash,
    });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    const held = await waitForRequest(server.client(), runId, (r) => r.kind === 'escalation');
    assert.deepEqual(held.request.payload, {
      tool: 'process_refund',
      args: { ...request.payload.args, amount: 5000 },
    });
    assert.match(held.request.title, /Refunds above \$500 need a manager/);
    assert.deepEqual(await refundsFor(server.client(), 'E301'), [], 'the edited amount is not paid yet');
    const editor = await server.client('alice').post(`/api/requests/${held.request.id}/decision`, {
      decision: 'approve',
      payloadHash: held.request.payloadHash,
    });
    assert.equal(editor.status, 403, 'the editor asked for $5,000: four-eyes');
    assert.equal(editor.body.error.code, 'REQUEST.FOUR_EYES');
    const manager = await server.client('bob').post(`/api/requests/${held.request.id}/decision`, {
      decision: 'approve',
      payloadHash: held.request.payloadHash,
    });
    assert.equal(manager.status, 200, JSON.stringify(manager.body));
    await waitForStatus(server.client(), runId, 'completed');
    assert.deepEqual(
      (await refundsFor(server.client(), 'E301')).map((r) => r.amount),
      [5000],
    );
  });

  it('an edit the tool schema refuses is a 400 naming the field, and appends nothing', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $150 for order #E302');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    const before = (await events(server.client(), runId)).length;
    const bad = await server.client('alice').post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: { args: { ...request.payload.args, amount: '5000' } },
      payloadHash: request.payloadHash,
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(bad.body.error.field, /^payload\.args/);
    assert.equal((await events(server.client(), runId)).length, before);
  });

  it('finding 12: an event edited in the database: the run is never driven, the decision is refused, /health says so', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $300 for order #T1201');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    await server.stop();
    const file = findFile(server.dataDir, 'events.db');
    // the stored event, decoded, written back edited as JSON text (its hash kept): an edit by hand
    const log = new SqliteLog(file);
    const stored = log.read(runId).find((e) => e.type === 'tool-call.requested')!;
    log.close();
    const db = new Database(file);
    db.prepare(
      'UPDATE events SET body = ? WHERE run = (SELECT id FROM runs WHERE run_id = ?) AND seq = ?',
    ).run(JSON.stringify(stored).replace('"amount":300', '"amount":3000'), runId, stored.seq);
    db.close();
    server = await ParleyProcess.start({ dataDir: server.dataDir });
    const shown = (await server.client().get(`/api/requests/${request.id}`)).body;
    assert.equal(
      shown.request?.payload?.args?.amount ?? shown.payload.args.amount,
      300,
      'the approver is shown $300',
    );
    const approve = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve', payloadHash: shown.payloadHash });
    assert.equal(approve.status, 409, JSON.stringify(approve.body));
    assert.equal(approve.body.error.code, 'RUN.CHAIN_BROKEN');
    const health = (await server.client(null).get('/health')).body;
    assert.equal(health.checks.runIntegrity.ok, false);
    assert.deepEqual(
      health.checks.runIntegrity.brokenRuns.map((b: { runId: string }) => b.runId),
      [runId],
    );
    assert.deepEqual(await refundsFor(server.client(), 'T1201'), [], 'nothing paid, neither $300 nor $3,000');
  });

  it('finding 10: an imported run that ends in a started $9,000 refund nobody approved is not paid after a restart; its gate opens', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $9000 for order #I1001');
    await waitForRequest(server.client(), runId, (r) => r.kind === 'escalation');
    const original = await events(server.client(), runId);
    // A forged history: the call, then straight to tool-call.started, the gate's events left out.
    const requested = original.find((e) => e.type === 'tool-call.requested')!;
    const kept = original.filter((e) => e.seq <= requested.seq);
    const importedRunId = `imported-${Date.now()}`;
    let prevHash = GENESIS_HASH;
    const forged = [
      ...kept.map((e) => ({ ...e })),
      {
        ...requested,
        eventId: `forged-${Date.now()}`,
        type: 'tool-call.started',
        actor: { kind: 'system', id: 'parley' },
        data: { callId: requested.data.callId, idempotencyKey: requested.data.idempotencyKey },
      },
    ].map((e, i) => {
      const { hash: _hash, ...rest } = e as Envelope & {
        schemaVersion: number;
        correlationId: string;
        causationId: string | null;
      };
      const sealed = sealEvent({ ...rest, runId: importedRunId, seq: i + 1, prevHash } as Omit<
        EventEnvelope,
        'hash'
      >);
      prevHash = sealed.hash;
      return sealed;
    });
    const manifest = {
      kind: 'parley.export',
      version: 1,
      exportedAt: new Date().toISOString(),
      runs: [{ runId: importedRunId, count: forged.length, head: prevHash }],
      schemaVersions: {},
    };
    // signed with the server's own key: as a peer it trusts would have exported it
    const ndjson = signExport(
      [manifest, ...forged].map((l) => JSON.stringify(l)).join('\n') + '\n',
      join(server.dataDir, 'signing-key.pem'),
    );
    const imported = await server
      .client()
      .post('/api/import', ndjson, { 'content-type': 'application/x-ndjson' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    await server.stop();
    server = await ParleyProcess.start({ dataDir: server.dataDir });
    const gate = await waitForRequest(server.client(), importedRunId, (r) => r.kind === 'escalation');
    assert.equal(gate.request.payload.args.amount, 9000);
    assert.deepEqual(await refundsFor(server.client(), 'I1001'), [], 'nothing was paid');
    assert.equal((await getRun(server.client(), importedRunId)).toolCalls[0].status, 'started');
  });
});

describe('escalation chains', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: FIXTURES } });
  });
  after(async () => server.dispose());

  it('approver 2 s -> manager 2 s -> admin 2 s -> rejected: each tier has its roles and deadline, nobody approves silently', async () => {
    const runId = await start(server.client('carol'), 'refund-chain', 'Please refund $150 for order #C801');
    const first = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    assert.deepEqual(first.request.roles, ['approver']);
    const manager = await waitForRequest(
      server.client(),
      runId,
      (r) => r.kind === 'escalation' && r.roles.includes('manager'),
      'the manager tier',
      20_000,
    );
    assert.ok(manager.request.deadline, 'the manager tier has a deadline of its own');
    assert.equal(manager.request.onTimeout?.action, 'escalate');
    const participant = await server.client('carol').post(`/api/requests/${manager.request.id}/decision`, {
      decision: 'approve',
      payloadHash: manager.request.payloadHash,
    });
    assert.equal(participant.status, 403);
    const admin = await waitForRequest(
      server.client(),
      runId,
      (r) => r.kind === 'escalation' && r.roles.includes('admin'),
      'the admin tier',
      20_000,
    );
    assert.equal(admin.request.onTimeout?.action, 'reject');
    const done = await waitForStatus(server.client(), runId, 'completed', 20_000);
    assert.equal(done.toolCalls[0].status, 'rejected');
    assert.deepEqual(await refundsFor(server.client(), 'C801'), []);
  });

  it('a tier answers in time: the manager approves and the refund is paid once', async () => {
    const runId = await start(server.client('carol'), 'refund-chain', 'Please refund $150 for order #C802');
    const manager = await waitForRequest(
      server.client(),
      runId,
      (r) => r.kind === 'escalation' && r.roles.includes('manager'),
      'the manager tier',
      20_000,
    );
    const yes = await server.client('maya').post(`/api/requests/${manager.request.id}/decision`, {
      decision: 'approve',
      payloadHash: manager.request.payloadHash,
    });
    assert.equal(yes.status, 200, JSON.stringify(yes.body));
    await waitForStatus(server.client(), runId, 'completed');
    assert.deepEqual(
      (await refundsFor(server.client(), 'C802')).map((r) => r.amount),
      [150],
    );
    await waitFor('the admin tier never opens', async () => {
      const log = await events(server.client(), runId);
      return log.filter((e) => e.type === 'human-request.opened').length === 2;
    });
  });
});

function findFile(dir: string, name: string): string {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory()) {
      try {
        return findFile(full, name);
      } catch {
        // not in this folder
      }
    }
  }
  throw new Error(`no ${name} under ${dir}`);
}
