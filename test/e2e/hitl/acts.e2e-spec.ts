import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditResponseSchema } from '@parley/contracts';
import { ParleyProcess, TEST_USERS, type HttpClient } from '@parley/testing';
import { events, waitForRequest, waitForStatus } from '../patterns/helpers';

/**
 * Every run action is permitted by the workflow (safe defaults) and attributed to who really took it
 * (issue "No path around a human", findings 4, 5 and 11), over real HTTP against a real server process
 * that is restarted on its own data folder.
 */

const BOT = { token: 'refund-bot-token-0123456789', id: 'refund-bot', roles: ['approver'], kind: 'service' };
const AGENT = {
  token: 'triage-agent-token-01234567',
  id: 'triage-agent',
  roles: ['participant'],
  kind: 'agent',
};

async function start(api: HttpClient, workflow: string, input: string): Promise<string> {
  const answer = await api.post('/api/runs', { workflow, input });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.runId;
}

describe('run actions: permitted and attributed', () => {
  let server: ParleyProcess;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-acts-'));
    const tokensFile = join(dataDir, 'tokens-with-automations.json');
    writeFileSync(tokensFile, JSON.stringify([...Object.values(TEST_USERS), BOT, AGENT]));
    server = await ParleyProcess.start({ dataDir, tokens: false, env: { PARLEY_TOKENS_FILE: tokensFile } });
  });
  after(async () => server.dispose());
  const as = (token: string) => server.client().as(token);

  it('finding 4: a participant may not re-route a handoff whose routing review is for approvers; an approver may, and the audit names them', async () => {
    const runId = await start(server.client('alice'), 'support-triage', 'I was charged twice on my invoice');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.subject.type === 'route');
    const before = (await events(server.client(), runId)).length;
    const refused = await server
      .client('carol')
      .post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: 'looks like a bug' });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'RUN.FORBIDDEN');
    assert.deepEqual(refused.body.error.details, { action: 'override', roles: ['approver'] });
    assert.equal((await events(server.client(), runId)).length, before, 'a refusal appends nothing');
    assert.equal((await server.client().get(`/api/requests/${request.id}`)).body.status, 'open');

    const rerouted = await server
      .client('bob')
      .post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: 'looks like a bug' });
    assert.equal(rerouted.status, 201, JSON.stringify(rerouted.body));
    const audit = AuditResponseSchema.parse((await server.client().get(`/api/runs/${runId}/audit`)).body);
    const review = audit.requests.find((r) => r.requestId === request.id);
    assert.ok(review, 'the routing review is in the audit trail');
    assert.deepEqual(
      review.decisions.map((d) => [d.by, d.decision, d.comment]),
      [[{ id: 'bob', role: 'approver' }, 'edit', 'looks like a bug']],
    );
    assert.equal(review.outcome?.status, 'resolved');
    assert.ok(
      audit.actions.some(
        (a) =>
          a.type === 'handoff.overridden' &&
          a.by.id === 'bob' &&
          a.by.role === 'approver' &&
          a.note === 'looks like a bug',
      ),
      JSON.stringify(audit.actions),
    );
  });

  it('finding 5: only the requester or an approver may cancel; a cancel closes the open requests, which leave the inbox for good (also after a restart)', async () => {
    const runId = await start(server.client('carol'), 'refund-desk', 'Please refund $150 for order #K5');
    const { request } = await waitForRequest(server.client(), runId, (r) => r.kind === 'approval');
    const before = (await events(server.client(), runId)).length;

    const maya = await server.client('maya').post(`/api/runs/${runId}/cancel`, { reason: 'not mine' });
    assert.equal(maya.status, 403, JSON.stringify(maya.body));
    assert.equal(maya.body.error.code, 'RUN.FORBIDDEN');
    assert.deepEqual(maya.body.error.details, { action: 'cancel', roles: ['requester', 'approver'] });
    assert.equal((await events(server.client(), runId)).length, before, 'a refusal appends nothing');

    const cancelled = await server
      .client('carol')
      .post(`/api/runs/${runId}/cancel`, { reason: 'customer withdrew' });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    const log = await events(server.client(), runId);
    const tail = log.slice(before);
    assert.deepEqual(
      tail.map((e) => e.type),
      ['human-request.closed', 'run.cancelled'],
    );
    assert.deepEqual(tail[0].data, { requestId: request.id, because: 'cancelled' });
    assert.deepEqual(tail[1].actor, { kind: 'human', id: 'carol', role: 'requester' });

    const inbox = async () =>
      (await server.client('alice').get(`/api/requests?status=open&runId=${runId}`)).body.requests;
    assert.deepEqual(await inbox(), []);
    assert.equal((await server.client().get(`/api/requests/${request.id}`)).body.status, 'closed');
    const late = await server
      .client('alice')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'REQUEST.CLOSED');

    await server.stop();
    server = await ParleyProcess.start({
      dataDir,
      tokens: false,
      env: { PARLEY_TOKENS_FILE: join(dataDir, 'tokens-with-automations.json') },
    });
    assert.deepEqual(await inbox(), [], 'still out of the inbox after a restart');
    assert.equal((await server.client().get(`/api/requests/${request.id}`)).body.status, 'closed');
  });

  it("finding 11: an agent's or a service's action is recorded as what it is, with its role; a refused fork creates nothing", async () => {
    const runId = await start(as(BOT.token), 'refund-desk', 'Please refund $150 for order #K6');
    await waitForStatus(server.client(), runId, 'waiting');
    const first = (await events(server.client(), runId))[0];
    assert.deepEqual(first.actor, { kind: 'service', id: 'refund-bot' });

    const other = await start(server.client('alice'), 'refund-desk', 'Please refund $150 for order #K7');
    await waitForStatus(server.client(), other, 'waiting');
    // an agent's token with the participant role neither started it nor approves: 403, nothing appended
    const agentCancel = await as(AGENT.token).post(`/api/runs/${other}/cancel`, {});
    assert.equal(agentCancel.status, 403, JSON.stringify(agentCancel.body));
    const botCancel = await as(BOT.token).post(`/api/runs/${other}/cancel`, { reason: 'duplicate ticket' });
    assert.equal(botCancel.status, 200, JSON.stringify(botCancel.body));
    const cancel = (await events(server.client(), other)).find((e) => e.type === 'run.cancelled')!;
    assert.deepEqual(cancel.actor, { kind: 'service', id: 'refund-bot', role: 'approver' });
    const audit = (await server.client().get(`/api/runs/${other}/audit`)).body;
    assert.deepEqual(
      audit.actions.find((a: { type: string }) => a.type === 'run.cancelled'),
      {
        type: 'run.cancelled',
        seq: cancel.seq,
        at: cancel.at,
        by: { kind: 'service', id: 'refund-bot', role: 'approver' },
        note: 'duplicate ticket',
      },
    );

    const runsBefore = (await server.client().get('/api/runs')).body.total;
    const fork = await server.client('carol').post(`/api/runs/${other}/fork`, { atSeq: 2, note: 'again' });
    assert.equal(fork.status, 403, JSON.stringify(fork.body));
    assert.equal(fork.body.error.code, 'RUN.FORBIDDEN');
    assert.equal((await server.client().get('/api/runs')).body.total, runsBefore, 'no run was created');
  });
});
