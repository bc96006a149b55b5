import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ParleyProcess,
  REPO_ROOT,
  runInStatus,
  waitFor,
  type HttpClient,
  type TestUser,
} from '@parley/testing';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'workflows');

async function start(
  server: ParleyProcess,
  user: TestUser,
  workflow: string,
  input: string,
): Promise<string> {
  const answer = await server.client(user).post('/api/runs', { workflow, input });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.runId;
}

async function eventCount(api: HttpClient, runId: string): Promise<number> {
  return (await api.get(`/api/runs/${runId}/events`)).body.events.length;
}

describe('approval policies: quorum, four-eyes, roles, confirmation, timeouts', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: FIXTURES } });
  });
  after(async () => server.dispose());

  it('a quorum of 2 needs two different approvers; the same decision twice is idempotent', async () => {
    const runId = await start(server, 'carol', 'refund-quorum', 'Please refund $300 for order #Q1');
    const run = await runInStatus(server.client('alice'), runId, 'waiting');
    const request = run.pendingRequests[0];
    assert.equal(request.quorum, 2);

    const first = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.deepEqual(first.body, { status: 'recorded', requestId: request.id, votes: 1, quorum: 2 });
    const count = await eventCount(server.client(), runId);
    const again = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'unchanged');
    assert.equal(await eventCount(server.client(), runId), count, 'a repeated decision appends nothing');
    const changed = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'reject' });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.error.code, 'REQUEST.ALREADY_DECIDED');
    assert.equal(
      (await server.client().get(`/api/runs/${runId}`)).body.status,
      'waiting',
      'one approval is not enough',
    );

    const second = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve', comment: 'ok' });
    assert.equal(second.body.status, 'resolved');
    const done = await runInStatus(server.client(), runId, 'completed');
    assert.equal(done.toolCalls[0].status, 'completed');
    const audit = (await server.client().get(`/api/requests/${request.id}`)).body;
    assert.deepEqual(
      audit.votes.map((v: { by: { id: string; role: string }; decision: string }) => [
        v.by.id,
        v.by.role,
        v.decision,
      ]),
      [
        ['alice', 'approver', 'approve'],
        ['bob', 'approver', 'approve'],
      ],
    );
    const late = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'reject' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'REQUEST.CLOSED');
  });

  it('four-eyes refuses the requester; a participant may not approve; nothing is appended', async () => {
    const runId = await start(server, 'alice', 'refund-quorum', 'Please refund $150 for order #Q2');
    const run = await runInStatus(server.client(), runId, 'waiting');
    const request = run.pendingRequests[0];
    const count = await eventCount(server.client(), runId);
    const own = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(own.status, 403);
    assert.equal(own.body.error.code, 'REQUEST.FOUR_EYES');
    const participant = await server
      .client('carol')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(participant.status, 403);
    assert.equal(participant.body.error.code, 'REQUEST.FORBIDDEN');
    const badDecision = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'maybe' });
    assert.equal(badDecision.status, 400);
    assert.equal(badDecision.body.error.field, 'decision');
    const notAllowed = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'feedback', comment: 'x' });
    assert.equal(notAllowed.status, 400);
    assert.equal(notAllowed.body.error.code, 'REQUEST.DECISION_NOT_ALLOWED');
    const badEdit = await server.client('bob').post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: { args: { order_id: 'Q2', amount: -5, reason: 'x' } },
    });
    assert.equal(badEdit.status, 400);
    assert.equal(badEdit.body.error.field, 'payload.args.amount');
    const noToken = await server
      .client(null)
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(noToken.status, 401);
    assert.equal(await eventCount(server.client(), runId), count, 'refused decisions change nothing');
    const unknown = await server
      .client('bob')
      .post('/api/requests/no-such-request/decision', { decision: 'approve' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'REQUEST.NOT_FOUND');
  });

  it('an approver edits the refund down, a second approves; the tool runs with the edited arguments', async () => {
    const runId = await start(server, 'carol', 'refund-quorum', 'Please refund $400 for order #Q3');
    const request = (await runInStatus(server.client(), runId, 'waiting')).pendingRequests[0];
    const edited = { args: { order_id: 'Q3', amount: 120, reason: 'partial refund: item kept' } };
    const first = await server.client('alice').post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: edited,
      comment: 'partial',
    });
    assert.equal(first.body.status, 'recorded', 'an edit is one vote of the quorum of 2');
    // bob is shown the edited refund and approves that version (its hash binds his decision).
    const shown = (await server.client('bob').get(`/api/requests/${request.id}`)).body;
    assert.equal(shown.payload.args.amount, 120);
    const second = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve', payloadHash: shown.payloadHash });
    assert.equal(second.body.status, 'resolved');
    await runInStatus(server.client(), runId, 'completed');
    const refunds = (await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds;
    assert.deepEqual(
      refunds.map((r: { amount: number; reason: string }) => [r.amount, r.reason]),
      [[120, 'partial refund: item kept']],
    );
  });

  it('a confirmation is answered by the requester only ("I\'ll refund $50. Confirm?")', async () => {
    const runId = await start(server, 'carol', 'refund-confirm', 'Please refund $50 for order #C1');
    const request = (await runInStatus(server.client(), runId, 'waiting')).pendingRequests[0];
    assert.equal(request.kind, 'confirmation');
    assert.match(request.ask, /Confirm\?$/);
    const other = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'confirm' });
    assert.equal(other.status, 403);
    const declined = await server
      .client('carol')
      .post(`/api/requests/${request.id}/decision`, { decision: 'decline', comment: 'changed my mind' });
    assert.equal(declined.body.status, 'resolved');
    const done = await runInStatus(server.client(), runId, 'completed');
    assert.equal(done.toolCalls[0].status, 'rejected');
    assert.equal((await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 0);
  });

  it('a timeout escalates to another role, who claims and approves', async () => {
    const runId = await start(server, 'carol', 'refund-timeout', 'Please refund $200 for order #T1');
    const first = (await runInStatus(server.client(), runId, 'waiting')).pendingRequests[0];
    assert.equal(first.onTimeout.action, 'escalate');
    const escalated = await waitFor(
      'the approval expires and escalates',
      async () => {
        const run = (await server.client().get(`/api/runs/${runId}`)).body;
        return run.pendingRequests.find((r: { kind: string }) => r.kind === 'escalation');
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(escalated.roles, ['manager']);
    const late = await server
      .client('alice')
      .post(`/api/requests/${first.id}/decision`, { decision: 'approve' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'REQUEST.EXPIRED');
    const notManager = await server.client('bob').post(`/api/requests/${escalated.id}/claim`);
    assert.equal(notManager.status, 403);
    const claim = await server.client('maya').post(`/api/requests/${escalated.id}/claim`);
    assert.equal(claim.status, 200);
    const decided = await server
      .client('maya')
      .post(`/api/requests/${escalated.id}/decision`, { decision: 'approve', comment: 'manager approves' });
    assert.equal(decided.body.status, 'resolved');
    await runInStatus(server.client(), runId, 'completed');
    const types = (await server.client().get(`/api/runs/${runId}/events`)).body.events.map(
      (e: { type: string }) => e.type,
    );
    assert.deepEqual(types.slice(4, 10), [
      'human-request.opened',
      'human-request.expired',
      'human-request.opened',
      'human-request.claimed',
      'human-decision.recorded',
      'human-request.resolved',
    ]);
    assert.equal((await server.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 1);
  });
});

describe('deadlines survive a restart (derived from the log at start-up)', () => {
  it('a request whose deadline passes while the server is down expires when it comes back', async () => {
    const first = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: FIXTURES } });
    const runId = await start(first, 'carol', 'refund-reject-timeout', 'Please refund $130 for order #D1');
    const request = (await runInStatus(first.client(), runId, 'waiting')).pendingRequests[0];
    await first.kill();
    await waitFor('the deadline has passed', () => Date.now() > Date.parse(request.deadline) + 200, {
      timeoutMs: 10_000,
    });
    const second = await ParleyProcess.start({
      dataDir: first.dataDir,
      env: { PARLEY_WORKFLOWS_DIR: FIXTURES },
    });
    try {
      const done = await runInStatus(second.client(), runId, 'completed');
      assert.equal(done.toolCalls[0].status, 'rejected');
      const types = (await second.client().get(`/api/runs/${runId}/events`)).body.events.map(
        (e: { type: string }) => e.type,
      );
      assert.ok(types.includes('human-request.expired'));
      assert.equal((await second.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 0);
    } finally {
      await second.dispose();
    }
  });
});
