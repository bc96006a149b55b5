import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, REPO_ROOT, type HttpClient } from '@parley/testing';
import { decide, events, modelCalls, startRun, waitForRequest, waitForStatus } from './helpers';

/**
 * Tools in every pattern where an agent speaks, over REST with the offline model (which calls
 * `process_refund` for a message with an amount when the tool is offered): a sequential stage, a
 * concurrent worker and a group-chat participant refund through the same approval gate as a single
 * agent; the refund is made once, after the approval, and the agent's turn goes on with its result.
 */
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'tool-patterns');

async function refundsOf(
  client: HttpClient,
  runId: string,
): Promise<Array<{ orderId: string; amount: number }>> {
  const answer = await client.get(`/api/refunds?runId=${runId}`);
  assert.equal(answer.status, 200);
  return answer.body.refunds;
}

describe('tools in sequential, concurrent and group-chat workflows', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start({ env: { PARLEY_WORKFLOWS_DIR: FIXTURES } });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  /** Start `workflow`, approve its refund of $150 for `order`, and check it was made once. */
  async function approvedRefund(workflow: string, agent: string, purpose: string, order: string) {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const runId = await startRun(carol, workflow, `Please refund $150 for order #${order}`);
    const { request } = await waitForRequest(carol, runId, (r) => r.kind === 'approval', 'the approval');
    assert.equal(request.subject.type, 'tool-call');
    assert.equal(request.payload.tool, 'process_refund');
    assert.equal(request.payload.args.amount, 150);
    assert.equal(request.payload.args.order_id, order);
    assert.deepEqual(request.roles, ['approver']);
    assert.match(request.ask, new RegExp(`^${agent} wants to run process_refund`));
    assert.deepEqual(await refundsOf(alice, runId), [], 'nothing is refunded before the approval');

    await decide(alice, request.id, { decision: 'approve' });
    const done = await waitForStatus(carol, runId, 'completed', 30_000);
    const refunds = await refundsOf(alice, runId);
    assert.equal(refunds.length, 1, JSON.stringify(refunds));
    assert.equal(refunds[0].orderId, order);
    assert.equal(refunds[0].amount, 150);

    const log = await events(carol, runId);
    assert.equal(log.filter((e) => e.type === 'tool-call.requested').length, 1);
    assert.equal(log.filter((e) => e.type === 'tool-call.completed').length, 1);
    const turn = modelCalls(log, purpose).filter((e) => e.data.agent === agent);
    assert.equal(turn.length, 2, 'the agent was called again with the tool result');
    assert.equal(turn[0].data.toolCalls[0].name, 'process_refund');
    assert.match(turn[1].data.content, /^Done\. process_refund returned: /);
    return { runId, log, done };
  }

  it("sequential: a stage refunds after the approval; the next stage gets the stage's answer", async () => {
    const { log } = await approvedRefund('refund-line', 'clerk', 'stage:0', 'S1');
    const writer = modelCalls(log, 'stage:1');
    assert.equal(writer.length, 1);
    assert.ok(
      writer[0].data.content.includes('You wrote: "Done. process_refund returned:'),
      writer[0].data.content,
    );
  });

  it('sequential: a rejected refund is never made, and the stage is told why', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'refund-line', 'Please refund $150 for order #S2');
    const { request } = await waitForRequest(carol, runId, (r) => r.kind === 'approval', 'the approval');
    await decide(server.client('alice'), request.id, { decision: 'reject', comment: 'Not eligible' });
    await waitForStatus(carol, runId, 'completed', 30_000);
    assert.deepEqual(await refundsOf(carol, runId), []);
    const log = await events(carol, runId);
    assert.equal(log.filter((e) => e.type === 'tool-call.started').length, 0, 'never run');
    const rejected = log.find((e) => e.type === 'tool-call.rejected');
    assert.match(rejected?.data.reason, /rejected by a human: Not eligible/);
  });

  it('concurrent: a worker refunds after the approval; the aggregator gets its answer', async () => {
    const { log } = await approvedRefund('refund-fan', 'clerk', 'worker:clerk', 'F1');
    const aggregate = modelCalls(log, 'aggregate');
    assert.equal(aggregate.length, 1);
    assert.equal(modelCalls(log, 'worker:analyst').length, 1, 'the other worker spoke once');
  });

  it('group chat: a participant refunds after the approval within its turn; the next speaker hears its answer', async () => {
    const { log, done } = await approvedRefund('refund-chat', 'clerk', 'turn', 'C1');
    const turns = modelCalls(log, 'turn');
    assert.deepEqual(
      turns.map((t) => t.data.agent),
      ['clerk', 'clerk', 'critic'],
    );
    assert.ok(
      turns[2].data.content.includes('You wrote: "[clerk] Done. process_refund returned:'),
      turns[2].data.content,
    );
    assert.ok(done.output?.startsWith('[clerk] Done. process_refund returned:'), done.output ?? '');
  });
});
