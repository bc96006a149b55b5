import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, waitFor, type HttpClient } from '@parley/testing';
import type { Socket } from 'socket.io-client';
import { ask, connect, contiguous, Recorder } from '../realtime/socket-client';
import { dropCluster, ownerOf, startCluster, status } from './cluster-helpers';

/**
 * Two instances on one Kafka cluster: each run has one owner; a command arriving at the other
 * instance (REST or WebSocket) reaches the owner through Kafka and answers exactly as if it had
 * run there; every instance's watchers see every run's events, live and in order.
 */
describe('cluster: two instances, commands routed to the owner', () => {
  let instances: ParleyProcess[] = [];
  let prefix = '';
  const sockets: Socket[] = [];

  before(async () => {
    ({ prefix, instances } = await startCluster(2, { OFFLINE_MODEL_TOKEN_LATENCY_MS: '2' }));
  });
  after(async () => {
    for (const s of sockets) s.close();
    await Promise.all(instances.map((i) => i.dispose()));
    if (prefix) await dropCluster(prefix);
  });

  /** The owner of the run and the other instance. */
  const split = async (runId: string): Promise<{ owner: ParleyProcess; other: ParleyProcess }> => {
    const owner = await ownerOf(instances, runId);
    return { owner, other: instances.find((i) => i !== owner)! };
  };
  const waitStatus = (api: HttpClient, runId: string, wanted: string, timeoutMs = 30_000) =>
    waitFor(
      `run ${runId} ${wanted}`,
      async () => {
        const run = (await api.get(`/api/runs/${runId}`)).body;
        return run.status === wanted ? run : undefined;
      },
      { timeoutMs },
    );

  it('splits the partitions between the instances', async () => {
    const [a, b] = await Promise.all(instances.map((i) => status(i)));
    assert.equal(a.mode, 'kafka');
    assert.equal(a.owned.length + b.owned.length, a.partitions);
    assert.deepEqual(
      a.owned.filter((p) => b.owned.includes(p)),
      [],
      'no partition has two owners',
    );
  });

  it('a decision sent to the non-owner reaches the owner, with the same answers and error codes', async () => {
    // admin starts it (and so may not approve it: four-eyes)
    const started = await instances[0].client('admin').post('/api/runs', {
      workflow: 'refund-desk',
      input: 'Please refund $250 for order #B777, it never arrived',
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const runId: string = started.body.runId;
    const { owner, other } = await split(runId);
    const waiting = await waitStatus(other.client('alice'), runId, 'waiting');
    const requestId: string = waiting.pendingRequests[0].id;
    const [sentBefore, ranBefore] = [(await status(other)).commands.sent, (await status(owner)).commands.ran];

    // the same refusals, through either instance
    for (const [user, code, http] of [
      ['admin', 'REQUEST.FOUR_EYES', 403],
      ['carol', 'REQUEST.FORBIDDEN', 403],
    ] as const) {
      const viaOther = await other
        .client(user)
        .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
      const viaOwner = await owner
        .client(user)
        .post(`/api/requests/${requestId}/decision`, { decision: 'approve' });
      assert.equal(viaOther.status, http, JSON.stringify(viaOther.body));
      assert.equal(viaOther.body.error.code, code);
      assert.deepEqual(
        [viaOther.status, viaOther.body],
        [viaOwner.status, viaOwner.body],
        `${user}: the same answer from the owner and the other instance`,
      );
    }
    const [sentAfter, ranAfter] = [(await status(other)).commands.sent, (await status(owner)).commands.ran];
    assert.equal(
      sentAfter - sentBefore,
      2,
      'the other instance sent both refused decisions to the owner through Kafka',
    );
    assert.equal(ranAfter - ranBefore, 2, 'the owner ran them');
    const unknown = await other
      .client('alice')
      .post('/api/requests/no-such-request/decision', { decision: 'approve' });
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'REQUEST.NOT_FOUND']);

    // claim and approve through the non-owner
    const claimed = await other.client('alice').post(`/api/requests/${requestId}/claim`);
    assert.deepEqual([claimed.status, claimed.body], [200, { status: 'claimed', requestId, by: 'alice' }]);
    const decided = await other
      .client('alice')
      .post(`/api/requests/${requestId}/decision`, { decision: 'approve', comment: 'entitled' });
    assert.deepEqual([decided.status, decided.body], [200, { status: 'resolved', requestId }]);

    const done = await waitStatus(other.client('alice'), runId, 'completed');
    assert.match(done.output, /process_refund returned/);
    const log: EventEnvelope[] = (await other.client('alice').get(`/api/runs/${runId}/events`)).body.events;
    assert.ok(contiguous(log));
    assert.equal(log.filter((e) => e.type === 'tool-call.completed').length, 1, 'the refund tool ran once');
    assert.deepEqual(
      log,
      (await owner.client('alice').get(`/api/runs/${runId}/events`)).body.events,
      'both instances hold the same log',
    );
    const refunds = await Promise.all(
      instances.map(
        async (i) => (await i.client('alice').get(`/api/refunds?runId=${runId}`)).body.refunds.length,
      ),
    );
    assert.deepEqual(refunds.sort(), [0, 1], 'applied once, by the owner');
    // Request notifications (opened, resolved) are published by the owner only, not once per instance.
    const notified = await waitFor('both notifications delivered', async () => {
      const all = (
        await Promise.all(
          instances.map(
            async (i) =>
              (await i.client('admin').get('/api/notifications')).body.deliveries as Array<{
                body: string;
                status: string;
              }>,
          ),
        )
      ).flat();
      const forRun = all.filter((d) => JSON.parse(d.body).runId === runId);
      return forRun.length >= 2 && forRun.every((d) => d.status === 'delivered') ? forRun : undefined;
    });
    assert.deepEqual(notified.map((d) => JSON.parse(d.body).type).sort(), [
      'request.opened',
      'request.resolved',
    ]);

    // a decision on a closed request: the same conflict through either instance
    const late = await other
      .client('bob')
      .post(`/api/requests/${requestId}/decision`, { decision: 'reject' });
    const lateOwner = await owner
      .client('bob')
      .post(`/api/requests/${requestId}/decision`, { decision: 'reject' });
    assert.ok(late.status >= 400, JSON.stringify(late.body));
    assert.deepEqual([late.status, late.body], [lateOwner.status, lateOwner.body]);

    // a fork through either instance: its new run id is chosen first, then it goes to that run's owner
    const fork = await other
      .client('alice')
      .post(`/api/runs/${runId}/fork`, { atSeq: 5, note: 'replay the approval' });
    assert.equal(fork.status, 201, JSON.stringify(fork.body));
    assert.deepEqual(fork.body.forkOf, {
      runId,
      atSeq: 5,
      head: log[4].hash,
      by: { kind: 'human', id: 'alice', role: 'approver' },
      note: 'replay the approval',
      askers: ['root'],
    });
    const forked = await other.client('carol').get(`/api/runs/${fork.body.runId}`);
    assert.equal(forked.status, 200, 'the fork is readable at once where it was asked for');
  });

  it('an idempotency key names the same run through either instance; cancel through the non-owner reads its own write', async () => {
    const key = `cluster-key-${Date.now()}`;
    const first = await instances[0].client('carol').post('/api/runs', {
      workflow: 'refund-desk',
      input: 'Please refund $300 for order #C1',
      idempotencyKey: key,
    });
    const second = await instances[1].client('carol').post('/api/runs', {
      workflow: 'refund-desk',
      input: 'Please refund $300 for order #C1',
      idempotencyKey: key,
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.runId, first.body.runId);
    const runId: string = first.body.runId;
    const { other } = await split(runId);
    const cancelled = await other
      .client('carol')
      .post(`/api/runs/${runId}/cancel`, { reason: 'changed my mind' });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.status, 'cancelled', 'the answer shows the run after the owner wrote it');
  });

  it('a human watching on one instance sees, in order, a debate run by the other, and speaks in it', async () => {
    const started = await instances[1]
      .client('carol')
      .post('/api/runs', { workflow: 'debate', input: 'Remote work beats the office' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const runId: string = started.body.runId;
    const { owner, other } = await split(runId);
    const carol = await connect(other, 'carol');
    sockets.push(carol);
    const recorder = new Recorder(carol);
    const watch = await ask(carol, 'run:watch', { runId, afterSeq: 0 });
    assert.equal(watch.ok, true, JSON.stringify(watch));

    const floor = await recorder.event(
      runId,
      'the floor opens for a human',
      (e) => e.type === 'human-request.opened',
      60_000,
    );
    const { requestId } = floor.data as { requestId: string };
    const text = 'Commutes waste ten hours every week';
    const posted = await ask(carol, 'run:message', { runId, text });
    assert.equal(posted.ok, true, JSON.stringify(posted));
    assert.equal(typeof posted.seq, 'number');
    const resolved = await recorder.event(
      runId,
      'the floor request is answered',
      (e) => e.type === 'human-request.resolved' && (e.data as { requestId: string }).requestId === requestId,
    );
    const reply = await recorder.event(
      runId,
      'the next agent speaks',
      (e) => e.type === 'model-call.completed' && e.seq > resolved.seq,
    );
    assert.match(
      (reply.data as { content: string }).content,
      new RegExp(`You wrote: "(\\[\\w+\\] )?${text}"`),
      'the next speaker quotes the human',
    );
    assert.equal(reply.actor.kind, 'agent');

    await recorder.event(
      runId,
      'the debate ends',
      (e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type),
      90_000,
    );
    const rest: EventEnvelope[] = (await owner.client('victor').get(`/api/runs/${runId}/events`)).body.events;
    assert.ok(contiguous(recorder.events(runId)));
    assert.deepEqual(recorder.events(runId), rest, 'every event once, in order, as the owner stored it');
    assert.ok(
      recorder.tokens(runId).length > 0,
      'tokens streamed by the owner reach the watcher on the other instance',
    );
  });
});
