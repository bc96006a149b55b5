import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '@parley/contracts';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ModelProxy, waitFor, type ParleyProcess } from '@parley/testing';
import type { Socket } from 'socket.io-client';
import { ask, connect, contiguous, Recorder } from '../realtime/socket-client';
import { dropCluster, ownerOf, startCluster, status, waitBalanced } from './cluster-helpers';

/**
 * Three instances; the owner of two runs is killed with SIGKILL while one of them has a model call
 * in flight and the other waits for an approval. The survivors take the runs over from the log:
 * the first run finishes, the approval is answerable, nothing is lost or done twice, and a watcher
 * on a survivor sees every event once and in order.
 */
describe('cluster: an owner killed with SIGKILL hands its runs to the others', () => {
  let model: OfflineModelServer;
  let proxy: ModelProxy;
  let instances: ParleyProcess[] = [];
  let prefix = '';
  const sockets: Socket[] = [];

  before(async () => {
    model = await startOfflineModelServer({ tokenLatencyMs: 1 });
    proxy = await ModelProxy.start(model.url);
    ({ prefix, instances } = await startCluster(3, {
      OPENAI_BASE_URL: proxy.url,
      OPENAI_API_KEY: 'test-key',
    }));
  });
  after(async () => {
    for (const s of sockets) s.close();
    await Promise.all(instances.map((i) => i.dispose()));
    if (prefix) await dropCluster(prefix);
    await proxy.close();
    await model.close();
  });

  it('the runs continue on the survivors: once, in order, the approval still answerable', async () => {
    // Run 1: draft, check (revise), draft, check (approve). Hold the first check at the model.
    const input = `Announce Parley failover ${Date.now()}`;
    const mine = (call: { body: { messages?: Array<{ content: unknown }> } }): boolean =>
      JSON.stringify(call.body.messages ?? []).includes(input);
    proxy.holdWhen(
      (call) => mine(call) && call.body.response_format?.json_schema?.name === 'checker_verdict',
    );
    const started = await instances[0]
      .client('carol')
      .post('/api/runs', { workflow: 'press-release-auto', input });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const runId: string = started.body.runId;
    const victim = await ownerOf(instances, runId);
    const survivors = instances.filter((i) => i !== victim);
    const watcherHost = survivors[0];

    // Run 2, owned by the same instance: a refund waiting for an approver.
    let refundRun: string | undefined;
    for (let attempt = 0; attempt < 30 && !refundRun; attempt++) {
      const r = await survivors[attempt % 2].client('carol').post('/api/runs', {
        workflow: 'refund-desk',
        input: `Please refund $250 for order #F${attempt}, it never arrived`,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      if ((await ownerOf(instances, r.body.runId)) === victim) refundRun = r.body.runId;
    }
    assert.ok(refundRun, 'a refund run owned by the instance to kill');
    const waiting = await waitFor('the refund waits for an approval', async () => {
      const run = (await watcherHost.client('alice').get(`/api/runs/${refundRun}`)).body;
      return run.status === 'waiting' ? run : undefined;
    });
    const requestId: string = waiting.pendingRequests[0].id;

    const inbox = (await survivors[1].client('alice').get('/api/requests?status=open')).body
      .requests as Array<{ id: string }>;
    assert.ok(
      inbox.some((r) => r.id === requestId),
      'the approval is in the inbox of every instance',
    );

    // A watcher on a survivor.
    const carol = await connect(watcherHost, 'carol');
    sockets.push(carol);
    const recorder = new Recorder(carol);
    assert.equal((await ask(carol, 'run:watch', { runId, afterSeq: 0 })).ok, true);
    assert.equal((await ask(carol, 'run:watch', { runId: refundRun, afterSeq: 0 })).ok, true);
    await waitFor('the check is held at the model', () => proxy.calls.some((c) => mine(c) && c.held));
    await waitFor('the watcher has the run up to the call in flight', () => {
      const types = recorder.events(runId).map((e) => e.type);
      return types.length === 4 && types[3] === 'model-call.started';
    });
    const seqBefore = recorder.events(runId).length;

    const killedAt = Date.now();
    await victim.kill();
    proxy.release(); // the held answer goes to a dead process
    // Decided while the run has no live owner: the command waits in the commands topic for the next one.
    const decision = survivors[1]
      .client('alice')
      .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
    const next = await recorder.event(
      runId,
      'the first event written by a survivor',
      (e) => e.seq > seqBefore,
      60_000,
    );
    const takeoverMs = Date.now() - killedAt;
    const newOwner = await ownerOf(survivors, runId);
    console.log(
      `[cluster failover] takeover: ${takeoverMs} ms from SIGKILL to the survivor's first event (seq ${next.seq}, ${next.type}) on ${(await status(newOwner)).instanceId}`,
    );

    await recorder.event(runId, 'run 1 completes', (e) => e.type === 'run.completed', 60_000);
    const rest: EventEnvelope[] = (await watcherHost.client('victor').get(`/api/runs/${runId}/events`)).body
      .events;
    assert.ok(contiguous(recorder.events(runId)), 'the watcher saw seqs 1..n, no gap, no duplicate');
    assert.deepEqual(recorder.events(runId), rest, 'every event exactly once, in order, as stored');
    const started4 = rest.filter((e) => e.type === 'model-call.started');
    const completed4 = rest.filter((e) => e.type === 'model-call.completed');
    assert.equal(completed4.length, 4, 'draft, check, draft, check');
    assert.equal(started4.length, 4, 'the call in flight at the kill was asked again under its recorded id');
    const calls = proxy.calls.filter(mine);
    assert.equal(calls.length, 5, 'four answered calls, plus the one cut off by the kill');
    assert.equal(
      new Set(calls.map((c) => JSON.stringify(c.body.messages))).size,
      4,
      'no answered call was asked twice',
    );

    // Run 2: the approval sent through a survivor right after the kill is answered once a survivor owns the run.
    const decided = await decision;
    assert.deepEqual([decided.status, decided.body], [200, { status: 'resolved', requestId }]);
    await recorder.event(refundRun!, 'run 2 completes', (e) => e.type === 'run.completed', 60_000);
    const refundLog: EventEnvelope[] = (
      await watcherHost.client('victor').get(`/api/runs/${refundRun}/events`)
    ).body.events;
    assert.deepEqual(recorder.events(refundRun), refundLog);
    assert.ok(contiguous(refundLog));
    assert.equal(refundLog.filter((e) => e.type === 'tool-call.started').length, 1);
    assert.equal(
      refundLog.filter((e) => e.type === 'tool-call.completed').length,
      1,
      'the refund was applied once',
    );
    // The refunds ledger belongs to each instance's data folder: count across the survivors.
    const refunds = await Promise.all(
      survivors.map(
        async (i) => (await i.client('alice').get(`/api/refunds?runId=${refundRun}`)).body.refunds.length,
      ),
    );
    assert.equal(refunds[0] + refunds[1], 1, 'one refund in all');

    await waitBalanced(survivors);
  });
});
