import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  after,
  assertError,
  decide,
  events,
  findEvent,
  modelCalls,
  quoted,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

const INVOICE = 'I was charged twice on my last invoice';

/** Handoff pattern (`support-triage`): triage transfers, an operator checks or re-routes. */
describe('support-triage (handoff) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  async function routed(input: string) {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'support-triage', input);
    const { run, request } = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'route',
      'the route review',
    );
    return { alice, runId, run, request };
  }

  it('triage transfers an invoice question to billing; a human re-routes it to technical, who answers', async () => {
    const { alice, runId, run, request } = await routed(INVOICE);
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'handoff.performed',
      'human-request.opened',
    ]);
    assert.equal(log[2].data.agent, 'triage');
    assert.deepEqual(
      log[2].data.toolCalls.map((t: { name: string }) => t.name),
      ['transfer_to_billing'],
    );
    assert.deepEqual({ from: log[3].data.from, to: log[3].data.to }, { from: 'triage', to: 'billing' });
    assert.deepEqual(log[3].actor, { kind: 'agent', id: 'triage' });
    assert.equal(request.kind, 'review');
    assert.deepEqual(request.subject, { type: 'route', handoff: 1 });
    assert.deepEqual(request.decisions, ['approve', 'edit']);
    assert.equal(request.payload.to, 'billing');
    assert.deepEqual(request.payload.specialists, ['billing', 'technical', 'general']);
    assert.equal(run.currentAgent, 'billing');

    const reason = 'The double charge comes from a checkout bug';
    // the routing review is for approvers: so is the re-route that settles it (a participant: 403)
    const carol = server.client('carol');
    const refused = await carol.post(`/api/runs/${runId}/handoff`, { to: 'technical', reason });
    assertError(refused, 403, 'RUN.FORBIDDEN');
    assert.equal((await events(alice, runId)).length, 5, 'a refused re-route appends nothing');
    const answer = await server.client('bob').post(`/api/runs/${runId}/handoff`, { to: 'technical', reason });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.seq, 6);

    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 5)), [
      'handoff.overridden',
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    assert.deepEqual(log[5].data, { by: { id: 'bob', role: 'approver' }, to: 'technical', reason });
    assert.deepEqual(log[5].actor, { kind: 'human', id: 'bob', role: 'approver' });
    // the re-route is bob's recorded decision on the routing review, so the audit trail names him
    assert.equal(log[6].data.requestId, request.id);
    assert.deepEqual(
      { decision: log[6].data.decision, by: log[6].data.by, payload: log[6].data.payload },
      { decision: 'edit', by: { id: 'bob', role: 'approver' }, payload: { to: 'technical' } },
    );
    assert.equal(log[7].data.requestId, request.id, 'the route review is settled by the re-route');
    assert.equal(log[7].data.outcome, 'edit');
    assert.deepEqual(log[7].data.payload, { to: 'technical' });
    const audit = (await alice.get(`/api/runs/${runId}/audit`)).body.requests;
    assert.deepEqual(
      audit
        .find((r: { requestId: string }) => r.requestId === request.id)
        .decisions.map((d: { by: unknown; decision: string }) => [d.by, d.decision]),
      [[{ id: 'bob', role: 'approver' }, 'edit']],
    );
    const replies = modelCalls(log, 'reply');
    assert.deepEqual(
      replies.map((r) => r.data.agent),
      ['triage', 'technical'],
      'billing never answered',
    );
    assert.ok(
      replies[1].data.content.includes(quoted(`[handoff] re-routed to technical: ${reason}`)),
      replies[1].data.content,
    );
    assert.equal(done.output, replies[1].data.content);
    assert.equal(done.currentAgent, 'technical');
    assert.equal(done.pendingRequests.length, 0);
    const resolved = await alice.get(`/api/requests/${request.id}`);
    assert.equal(resolved.body.status, 'resolved');
  });

  it('an approved route lets billing answer', async () => {
    const { alice, runId, request } = await routed(INVOICE);
    await decide(alice, request.id, { decision: 'approve' });
    const done = await waitForStatus(alice, runId, 'completed');
    const log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 5)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    const replies = modelCalls(log, 'reply');
    assert.deepEqual(
      replies.map((r) => r.data.agent),
      ['triage', 'billing'],
    );
    assert.deepEqual(replies[1].data.toolCalls, []);
    assert.ok(replies[1].data.content.startsWith('I am the billing specialist.'), replies[1].data.content);
    assert.ok(replies[1].data.content.includes(quoted(INVOICE)));
    assert.equal(done.output, replies[1].data.content);
    assert.equal(done.currentAgent, 'billing');
    // The conversation is over: it cannot be re-routed any more.
    assertError(
      await server
        .client('carol')
        .post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: 'Too late' }),
      409,
      'RUN.ENDED',
    );
    assert.equal((await events(alice, runId)).length, log.length);
  });

  it('a route edited in the review (payload {to}) hands the conversation over', async () => {
    const { alice, runId, request } = await routed(INVOICE);
    const bad = await alice.post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: { to: 'sales' },
    });
    assertError(bad, 400, 'REQUEST.INVALID_PAYLOAD');
    await decide(alice, request.id, {
      decision: 'edit',
      payload: { to: 'general' },
      comment: 'Not a billing matter',
    });
    const done = await waitForStatus(alice, runId, 'completed');
    const log = await events(alice, runId);
    const handoffs = log
      .filter((e) => e.type === 'handoff.performed')
      .map((e) => `${e.data.from}->${e.data.to}`);
    assert.deepEqual(handoffs, ['triage->billing', 'billing->general']);
    const replies = modelCalls(log, 'reply');
    assert.deepEqual(
      replies.map((r) => r.data.agent),
      ['triage', 'general'],
    );
    assert.equal(done.currentAgent, 'general');
  });

  it('bad re-routes are refused with a coded error naming the field, and change nothing', async () => {
    const { alice, runId } = await routed(INVOICE);
    const before = (await events(alice, runId)).length;
    const carol = server.client('bob'); // an approver: the routing review is theirs
    assertError(
      await carol.post(`/api/runs/${runId}/handoff`, { to: 'sales', reason: 'They sell things' }),
      400,
      'HANDOFF.UNKNOWN_AGENT',
      'to',
    );
    assertError(
      await carol.post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: '' }),
      400,
      'REQUEST.INVALID_BODY',
      'reason',
    );
    assertError(
      await carol.post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: '   ' }),
      400,
      'HANDOFF.REASON_REQUIRED',
      'reason',
    );
    assertError(
      await carol.post(`/api/runs/${runId}/handoff`, { reason: 'no target' }),
      400,
      'REQUEST.INVALID_BODY',
      'to',
    );
    assertError(
      await carol.post(`/api/runs/${runId}/handoff`, { to: 'billing', reason: 'Already there' }),
      409,
      'HANDOFF.ALREADY_THERE',
    );
    assertError(
      await server.client('victor').post(`/api/runs/${runId}/handoff`, { to: 'technical', reason: 'viewer' }),
      403,
      'AUTH.ROLE_REQUIRED',
    );
    assertError(
      await carol.post('/api/runs/no-such-run/handoff', { to: 'technical', reason: 'x' }),
      404,
      'RUN.NOT_FOUND',
    );
    const log = await events(alice, runId);
    assert.equal(log.length, before, 'no event appended');
    const view = await waitForStatus(alice, runId, 'waiting');
    assert.equal(view.currentAgent, 'billing');

    // Re-routing a run of another pattern is refused too.
    const other = await startRun(alice, 'press-release', 'We launch Parley 1.0');
    await waitForStatus(alice, other, 'waiting');
    assertError(
      await carol.post(`/api/runs/${other}/handoff`, { to: 'technical', reason: 'x' }),
      400,
      'HANDOFF.NOT_A_HANDOFF_RUN',
    );
    findEvent(await events(alice, other), 'human-request.opened');
  });
});
