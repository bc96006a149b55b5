import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  after,
  assertError,
  decide,
  events,
  modelCalls,
  quoted,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

/** Single agent with tools (`refund-desk`): the quick paths (no approval, escalations). */
describe('refund-desk (single agent with tools) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('a $50 refund needs no approval: the tool runs, the refund is in the ledger, the run completes', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'refund-desk', 'Please refund $50 for order A123, it arrived broken');
    const done = await waitForStatus(carol, runId, 'completed');
    const log = await events(carol, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'tool-call.requested',
      'tool-call.started',
      'tool-call.completed',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    const requested = log[3].data;
    assert.equal(requested.tool, 'process_refund');
    assert.deepEqual(
      { order_id: requested.args.order_id, amount: requested.args.amount },
      { order_id: 'A123', amount: 50 },
    );
    assert.equal(requested.idempotencyKey, `${runId}:${requested.callId}`);
    assert.equal(log[5].data.result.status, 'refunded');
    assert.equal(log[5].data.reconciled, false);
    assert.ok(!typesOf(log).includes('human-request.opened'), 'under $100: no approval');

    const refunds = await carol.get(`/api/refunds?runId=${runId}`);
    assert.equal(refunds.status, 200);
    assert.equal(refunds.body.refunds.length, 1);
    const [refund] = refunds.body.refunds;
    assert.deepEqual(
      {
        runId: refund.runId,
        orderId: refund.orderId,
        amount: refund.amount,
        refundId: refund.refundId,
        key: refund.idempotencyKey,
      },
      {
        runId,
        orderId: 'A123',
        amount: 50,
        refundId: log[5].data.result.refundId,
        key: requested.idempotencyKey,
      },
    );
    assert.match(done.output!, /process_refund returned: .*"amount":50/);
    assert.equal(done.toolCalls[0].status, 'completed');
  });

  it('a $700 refund escalates; a human claims it and answers; the agent goes on without refunding', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const runId = await startRun(carol, 'refund-desk', 'Please refund $700 for order A124');
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'escalation', 'the escalation');
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'tool-call.requested',
      'escalation.raised',
      'human-request.opened',
    ]);
    const callId = log[3].data.callId;
    assert.equal(log[3].data.args.amount, 700);
    assert.deepEqual(
      { reason: log[4].data.reason, source: log[4].data.source, rule: log[4].data.rule },
      { reason: 'Refunds above $500 need a manager', source: 'policy', rule: 'amount > 500' },
    );
    assert.equal(log[5].data.kind, 'escalation');
    assert.deepEqual(request.subject, { type: 'tool-call', callId });
    assert.deepEqual(request.decisions, ['approve', 'reject', 'answer', 'handback', 'close']);
    assert.equal(request.escalation.reason, 'Refunds above $500 need a manager');
    assert.equal(request.escalation.source, 'policy');
    assert.ok(!typesOf(log).some((t) => t.startsWith('tool-call.started')), 'the refund is held');

    // Claim, then answer. Someone else cannot decide a claimed escalation.
    const claim = await alice.post(`/api/requests/${request.id}/claim`);
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    assert.deepEqual(claim.body, { status: 'claimed', requestId: request.id, by: 'alice' });
    assertError(
      await server.client('bob').post(`/api/requests/${request.id}/claim`),
      409,
      'REQUEST.CLAIMED_BY_OTHER',
    );
    assertError(
      await server
        .client('bob')
        .post(`/api/requests/${request.id}/decision`, { decision: 'answer', comment: 'bob here' }),
      409,
      'REQUEST.CLAIMED_BY_OTHER',
    );
    assertError(
      await alice.post(`/api/requests/${request.id}/decision`, { decision: 'answer' }),
      400,
      'REQUEST.COMMENT_REQUIRED',
      'comment',
    );
    const guidance = 'Refund not approved: offer the customer store credit instead';
    await decide(alice, request.id, { decision: 'answer', comment: guidance });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 6)), [
      'human-request.claimed',
      'human-decision.recorded',
      'human-request.resolved',
      'tool-call.rejected',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    assert.deepEqual(log[6].data.by, { id: 'alice', role: 'approver' });
    assert.equal(log[9].data.callId, callId);
    assert.match(log[9].data.reason, /not run \(answer\) by a human: Refund not approved/);
    const replies = modelCalls(log, 'reply');
    assert.equal(replies.length, 2);
    assert.ok(
      replies[1].data.content.includes(quoted(guidance)),
      `the agent continued from the human's answer: ${replies[1].data.content}`,
    );
    assert.deepEqual(replies[1].data.toolCalls, []);
    assert.equal(done.output, replies[1].data.content);
    assert.equal(done.toolCalls[0].status, 'rejected');
    const refunds = await alice.get(`/api/refunds?runId=${runId}`);
    assert.deepEqual(refunds.body.refunds, [], 'no refund was made');
  });

  it('an escalated refund keeps its four-eyes rule: the requester cannot approve it, another approver can', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'refund-desk', 'Please refund $650 for order A127');
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'escalation');
    assert.equal(request.requester, 'alice');
    assert.equal(request.fourEyes, true, 'the approval rule for refunds over $100 is four-eyes');
    assertError(
      await alice.post(`/api/requests/${request.id}/decision`, { decision: 'approve' }),
      403,
      'REQUEST.FOUR_EYES',
    );
    assert.equal((await alice.get(`/api/refunds?runId=${runId}`)).body.refunds.length, 0);
    await decide(server.client('bob'), request.id, {
      decision: 'approve',
      comment: 'Manager-level approval',
    });
    await waitForStatus(alice, runId, 'completed');
    const log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 6)), [
      'human-decision.recorded',
      'human-request.resolved',
      'tool-call.started',
      'tool-call.completed',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    const refunds = (await alice.get(`/api/refunds?runId=${runId}`)).body.refunds;
    assert.deepEqual(
      refunds.map((r: { amount: number; orderId: string }) => [r.orderId, r.amount]),
      [['A127', 650]],
    );
  });

  it('an input mentioning a lawyer escalates before any model call', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const input = 'My lawyer will contact you about order A125';
    const runId = await startRun(carol, 'refund-desk', input);
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'escalation');
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), ['run.started', 'escalation.raised', 'human-request.opened']);
    assert.equal(log[1].data.reason, 'The customer mentions legal action');
    assert.equal(log[1].data.source, 'policy');
    assert.deepEqual(log[1].actor, { kind: 'system', id: 'parley' });
    assert.deepEqual(request.subject, { type: 'escalation' });
    assert.deepEqual(request.payload, { input });
    assert.equal(request.escalation.suggested_action, 'Hand the case to the legal team.');

    await decide(alice, request.id, { decision: 'close', comment: 'Handed to legal' });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 3)), [
      'human-decision.recorded',
      'human-request.resolved',
      'run.completed',
    ]);
    assert.equal(done.output, 'Handed to legal');
    assert.equal(modelCalls(log, 'reply', 'started').length, 0, 'the model was never called');
  });

  it('an input asking for a manager escalates; handback with guidance lets the agent answer', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const runId = await startRun(carol, 'refund-desk', 'I want to speak to a manager about order A126');
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'escalation');
    assert.equal(request.escalation.reason, 'The customer asks for a manager');
    const guidance = 'Apologise and offer a callback tomorrow';
    await decide(alice, request.id, { decision: 'handback', comment: guidance });
    const done = await waitForStatus(alice, runId, 'completed');
    const log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 3)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    assert.equal(
      log.filter((e) => e.type === 'escalation.raised').length,
      1,
      'the input is not escalated twice',
    );
    assert.ok(
      modelCalls(log, 'reply')[0].data.content.includes(quoted(guidance)),
      'the agent saw the guidance',
    );
    assert.equal(done.output, modelCalls(log, 'reply')[0].data.content);
  });
});
