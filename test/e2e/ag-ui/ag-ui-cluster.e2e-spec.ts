import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ParleyProcess } from '@parley/testing';
import { dropCluster, ownerOf, startCluster, status } from '../cluster/cluster-helpers';
import { aguiAgent, customs, finished, interruptsOf, runOnce, userMessage } from './ag-ui-client';

/**
 * AG-UI on a Kafka cluster: the thread's commands go through the CommandRouter, so an AG-UI client of
 * an instance that does not own the run starts, resumes and watches it as on one machine.
 */
describe('AG-UI on a cluster of two instances', () => {
  let instances: ParleyProcess[] = [];
  let prefix = '';
  before(async () => {
    ({ prefix, instances } = await startCluster(2, { OFFLINE_MODEL_TOKEN_LATENCY_MS: '15' }));
  });
  after(async () => {
    await Promise.all(instances.map((i) => i.dispose()));
    if (prefix) await dropCluster(prefix);
  });

  it('an approval resumed through the instance that does not own the run: the owner decides, the tool runs once, the stream sees it all', async () => {
    const alice = aguiAgent(instances[0], 'alice', 'refund-desk');
    alice.addMessage(userMessage('Please refund $180 for order C42, it arrived broken'));
    const [interrupt] = interruptsOf((await runOnce(alice)).events);
    assert.equal(interrupt.reason, 'parley:four-eyes');
    const runId = alice.threadId;
    const owner = await ownerOf(instances, runId);
    const other = instances.find((i) => i !== owner)!;
    const sentBefore = (await status(other)).commands.sent;

    const bob = aguiAgent(other, 'bob', 'refund-desk', runId);
    const resumed = await runOnce(bob, {
      resume: [{ interruptId: interrupt.id, status: 'resolved', payload: { decision: 'approve' } }],
    });
    assert.ok(
      (await status(other)).commands.sent > sentBefore,
      'the decision went to the owner through Kafka',
    );
    assert.deepEqual(
      customs(resumed.events, 'parley:decision-recorded').map((d) => d.vote.by.id),
      ['bob'],
    );
    const results = resumed.events.filter((e) => e.type === 'TOOL_CALL_RESULT');
    assert.equal(results.length, 1);
    assert.equal(results[0].toolCallId, interrupt.toolCallId);
    assert.deepEqual(finished(resumed.events).outcome, { type: 'success' });
    // the owner's tokens, relayed through Kafka, are streamed by the other instance (15 ms a token)
    const last = resumed.events.filter((e) => e.type === 'TEXT_MESSAGE_START').pop()!;
    const pieces = resumed.events.filter(
      (e) => e.type === 'TEXT_MESSAGE_CONTENT' && e.messageId === last.messageId,
    );
    assert.ok(pieces.length > 1, `streamed in ${pieces.length} pieces`);
    const run = (await other.client().get(`/api/runs/${runId}`)).body;
    const said = run.transcript.filter((t: { role: string }) => t.role === 'agent').pop().content;
    assert.equal(pieces.map((e) => e.delta).join(''), said);
    // the refund was made once, on the owner (the refunds ledger is per instance: docs/ARCHITECTURE.md)
    assert.equal((await owner.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 1);
    assert.equal((await other.client().get(`/api/refunds?runId=${runId}`)).body.refunds.length, 0);
  });
});
