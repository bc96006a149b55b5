import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ModelProxy, ParleyProcess, waitFor, type HttpClient } from '@parley/testing';

/**
 * Kill the server with SIGKILL (no shutdown hook, nothing flushed but what the log holds), start
 * a new process on the same data folder, and show the run continue from its log: no recorded
 * model call asked again, no tool side effect applied twice.
 */
describe('crash recovery (SIGKILL, restart on the same data)', () => {
  let model: OfflineModelServer;
  let proxy: ModelProxy;

  before(async () => {
    model = await startOfflineModelServer();
    proxy = await ModelProxy.start(model.url);
  });
  after(async () => {
    await proxy.close();
    await model.close();
  });

  const env = () => ({ OPENAI_BASE_URL: proxy.url, OPENAI_API_KEY: 'test-key' });
  const types = async (api: HttpClient, runId: string): Promise<string[]> =>
    (await api.get(`/api/runs/${runId}/events`)).body.events.map((e: { type: string }) => e.type);

  it('a refund over $100 waits, survives SIGKILL, is approved on the new process and runs exactly once', async () => {
    const first = await ParleyProcess.start({ env: env() });
    const callsBefore = proxy.calls.length;
    const started = await first.client('carol').post('/api/runs', {
      workflow: 'refund-desk',
      input: 'Please refund $250 for order #B777, it never arrived',
    });
    assert.equal(started.status, 201);
    const runId: string = started.body.runId;
    const waiting = await waitFor('the run waits for an approval', async () => {
      const run = (await first.client('alice').get(`/api/runs/${runId}`)).body;
      return run.status === 'waiting' ? run : undefined;
    });
    const [request] = waiting.pendingRequests;
    assert.equal(request.kind, 'approval');
    assert.deepEqual(request.payload, {
      tool: 'process_refund',
      args: { order_id: 'B777', amount: 250, reason: 'Please refund $250 for order #B777, it never arrived' },
    });
    assert.equal(
      (await first.client('alice').get(`/api/refunds?runId=${runId}`)).body.refunds.length,
      0,
      'nothing refunded before the approval',
    );

    await first.kill();
    const second = await ParleyProcess.start({ dataDir: first.dataDir, env: env() });
    try {
      const alice = second.client('alice');
      const inbox = (await alice.get('/api/requests?status=open')).body.requests;
      assert.ok(
        inbox.some((r: { id: string }) => r.id === request.id),
        'the pending approval is still in the inbox after the restart',
      );
      const decided = await alice.post(`/api/requests/${request.id}/decision`, {
        decision: 'approve',
        comment: 'customer is entitled',
      });
      assert.equal(decided.status, 200);
      assert.equal(decided.body.status, 'resolved');
      const done = await waitFor('the run completes', async () => {
        const run = (await alice.get(`/api/runs/${runId}`)).body;
        return run.status === 'completed' ? run : undefined;
      });
      assert.match(done.output, /process_refund returned/);
      const refunds = (await alice.get(`/api/refunds?runId=${runId}`)).body.refunds;
      assert.equal(refunds.length, 1, 'the refund tool ran exactly once');
      assert.equal(refunds[0].amount, 250);
      assert.deepEqual(await types(alice, runId), [
        'run.started',
        'model-call.started',
        'model-call.completed',
        'tool-call.requested',
        'human-request.opened',
        'human-decision.recorded',
        'human-request.resolved',
        'tool-call.started',
        'tool-call.completed',
        'model-call.started',
        'model-call.completed',
        'run.completed',
      ]);
      assert.equal(
        proxy.calls.length - callsBefore,
        2,
        'two model calls in all: none asked again after the restart',
      );
    } finally {
      await second.dispose();
    }
  });

  it('a run killed while a model call is in flight continues on restart without repeating any recorded call', async () => {
    const first = await ParleyProcess.start({ env: env() });
    const offset = proxy.calls.length;
    // press-release-auto: draft, check (revise), draft, check (approve). Hold the first check.
    proxy.holdWhen((call) => call.body.response_format?.json_schema?.name === 'checker_verdict');
    const { body } = await first.client('carol').post('/api/runs', {
      workflow: 'press-release-auto',
      input: 'Announce Parley 1.0, an orchestration server',
    });
    const runId: string = body.runId;
    await waitFor('the checker call is held at the model', () =>
      proxy.calls.slice(offset).some((c) => c.held),
    );
    const recorded = await types(first.client('alice'), runId);
    assert.deepEqual(recorded, [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'model-call.started',
    ]);

    await first.kill();
    proxy.release();
    const second = await ParleyProcess.start({ dataDir: first.dataDir, env: env() });
    try {
      const alice = second.client('alice');
      const done = await waitFor('the run completes after the restart', async () => {
        const run = (await alice.get(`/api/runs/${runId}`)).body;
        return run.status === 'completed' ? run : undefined;
      });
      assert.ok(done.output.length > 0);
      const events = (await alice.get(`/api/runs/${runId}/events`)).body.events as Array<{
        type: string;
        data: { callId?: string };
      }>;
      const completedCalls = events.filter((e) => e.type === 'model-call.completed');
      const startedCalls = events.filter((e) => e.type === 'model-call.started');
      assert.equal(completedCalls.length, 4, 'draft, check, draft, check');
      assert.equal(
        startedCalls.length,
        4,
        'the call in flight at the kill was re-asked under its recorded id, not started anew',
      );
      const calls = proxy.calls.slice(offset);
      assert.equal(calls.length, 5, 'four answered calls, plus the one cut off by the kill');
      assert.deepEqual(
        calls[2].body.messages,
        calls[1].body.messages,
        'the only repeated request is the unanswered one',
      );
      const bodies = calls.map((c) => JSON.stringify(c.body.messages));
      assert.equal(new Set(bodies).size, 4, 'no answered call was asked twice');
    } finally {
      proxy.holdWhen(undefined);
      await second.dispose();
    }
  });
});
