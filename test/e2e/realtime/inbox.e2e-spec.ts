import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InboxCounts, RequestSummaryPayload } from '@parley/contracts';
import { ParleyProcess, waitFor } from '@parley/testing';
import type { Socket } from 'socket.io-client';
import { ask, connect, Recorder } from './socket-client';

/** The inbox over WebSocket: inbox:changed to the users who may act on a request. */
describe('realtime: inbox', () => {
  let server: ParleyProcess;
  const sockets: Socket[] = [];
  const watching = async (
    user: Parameters<typeof connect>[1],
    roles?: string[],
  ): Promise<{
    socket: Socket;
    recorder: Recorder;
    requests: RequestSummaryPayload[];
    total: number;
    counts: InboxCounts;
  }> => {
    const socket = await connect(server, user);
    sockets.push(socket);
    const recorder = new Recorder(socket);
    const ack = await ask(socket, 'inbox:watch', roles ? { roles } : {});
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return { socket, recorder, requests: ack.requests, total: ack.total, counts: ack.counts };
  };
  const about = (recorder: Recorder, requestId: string): RequestSummaryPayload[] =>
    recorder.inbox().flatMap((c) => (c.request?.id === requestId ? [c.request] : []));

  before(async () => {
    server = await ParleyProcess.start();
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server.dispose();
  });

  it('an approval opens, is claimed over WebSocket and decided over REST: approvers see each change, others nothing', async () => {
    const alice = await watching('alice');
    const carol = await watching('carol');
    const victor = await watching('victor');
    assert.deepEqual(alice.requests, []);

    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $120 for order #A123' });
    const runId: string = body.runId;
    const opened = await waitFor(
      'alice is told of the new approval',
      () => alice.recorder.inbox().find((c) => c.request?.runId === runId)?.request,
    );
    assert.equal(opened.status, 'open');
    assert.equal(opened.kind, 'approval');
    assert.deepEqual(opened.roles, ['approver']);

    // inbox:watch answers with what is open now
    const bob = await watching('bob');
    assert.deepEqual(
      bob.requests.map((r) => r.id),
      [opened.id],
    );
    const inboxRest = (await server.client('bob').get('/api/requests')).body;
    assert.deepEqual(bob.requests, inboxRest.requests, 'the same as GET /api/requests');
    assert.deepEqual([bob.total, bob.counts], [inboxRest.total, inboxRest.counts]);

    assert.equal((await ask(bob.socket, 'request:claim', { requestId: opened.id })).ok, true);
    const claimed = await waitFor('alice sees the claim', () =>
      about(alice.recorder, opened.id).find((r) => r.claimedBy === 'bob'),
    );
    assert.equal(claimed.status, 'open');

    const decided = await server
      .client('bob')
      .post(`/api/requests/${opened.id}/decision`, { decision: 'approve' });
    assert.equal(decided.status, 200);
    const resolved = await waitFor('alice sees it decided elsewhere', () =>
      about(alice.recorder, opened.id).find((r) => r.status === 'resolved'),
    );
    assert.equal(resolved.outcome, 'approve');
    await waitFor('bob too', () => about(bob.recorder, opened.id).some((r) => r.status === 'resolved'));

    // a round trip on each socket after the changes were sent to everyone
    await ask(carol.socket, 'inbox:watch', {});
    await ask(victor.socket, 'inbox:watch', {});
    assert.deepEqual(about(carol.recorder, opened.id), [], 'a participant may not act on an approval');
    assert.deepEqual(about(victor.recorder, opened.id), [], 'a viewer may not act on anything');
    assert.deepEqual((await ask(alice.socket, 'inbox:watch', {})).requests, [], 'nothing open any more');
  });

  it('narrowed by roles, and stopped by inbox:unwatch', async () => {
    const adminApprovals = await watching('admin', ['approver']);
    const adminParticipants = await watching('admin', ['participant']);
    const carol = await watching('carol');
    const stopped = await watching('maya');
    assert.deepEqual(await ask(stopped.socket, 'inbox:unwatch', {}), { ok: true });

    const { body } = await server
      .client('carol')
      .post('/api/runs', { workflow: 'debate', input: 'Meetings should be optional' });
    const runId: string = body.runId;
    const floor = await waitFor(
      'carol is offered the floor',
      () => carol.recorder.inbox().find((c) => c.request?.runId === runId)?.request,
    );
    assert.equal(floor.kind, 'input');
    await waitFor(
      'the admin watching participants sees it',
      () => about(adminParticipants.recorder, floor.id).length > 0,
    );

    // answered over WebSocket: the inbox entry closes for every watcher
    const answered = await ask(carol.socket, 'run:message', { runId, text: 'Only with an agenda' });
    assert.equal(answered.ok, true, JSON.stringify(answered));
    await waitFor('carol sees it resolved', () =>
      about(carol.recorder, floor.id).some((r) => r.status === 'resolved'),
    );
    await waitFor('so does the admin', () =>
      about(adminParticipants.recorder, floor.id).some((r) => r.status === 'resolved'),
    );

    await ask(adminApprovals.socket, 'inbox:watch', { roles: ['approver'] });
    await ask(stopped.socket, 'inbox:unwatch', {});
    assert.deepEqual(about(adminApprovals.recorder, floor.id), [], 'filtered out by roles');
    assert.deepEqual(stopped.recorder.inbox(), [], 'nothing after inbox:unwatch');
  });
});
