import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InboxCounts, RequestSummaryPayload } from '@parley/contracts';
import { ParleyClient, type InboxState } from '@parley/client';
import { ParleyProcess, TEST_USERS, waitFor } from '@parley/testing';
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

  it('pages over socket.io: the ack is the first page with the total and the counts, a cursor the next; pushes only for what the pages show, or counts alone', async () => {
    const carol = server.client('carol');
    const query = { workflow: 'refund-desk', kind: 'approval', sort: 'age' } as const;
    const openApprovals = async (): Promise<RequestSummaryPayload[]> =>
      (
        await server
          .client('alice')
          .get(`/api/requests?workflow=refund-desk&kind=approval&sort=age&limit=500`)
      ).body.requests;
    const before = (await openApprovals()).length;
    const runs: string[] = [];
    for (let i = 0; i < 5; i++)
      runs.push(
        (
          await carol.post('/api/runs', {
            workflow: 'refund-desk',
            input: `Please refund $${121 + i} for #P${i}`,
          })
        ).body.runId,
      );
    const opened = await waitFor('five approvals open', async () => {
      const all = (await openApprovals()).filter((r) => runs.includes(r.runId));
      return all.length === 5 ? all : undefined;
    });
    const keys = opened.map((r) => `${r.createdAt} ${r.id}`);
    assert.deepEqual(keys, [...keys].sort(), 'oldest first');
    // the runs in the order their approvals opened
    runs.splice(0, runs.length, ...opened.map((r) => r.runId));
    const open = opened;
    const requestOf = (runId: string) => open.find((r) => r.runId === runId)!;

    const alice = await connect(server, 'alice');
    sockets.push(alice);
    const seen = new Recorder(alice);
    const first = await ask(alice, 'inbox:watch', { ...query, limit: before + 2 });
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(first.asOf, 0, 'nothing was sent before on this connection');
    assert.equal(first.total, before + 5);
    assert.deepEqual(
      first.requests.slice(before).map((r) => r.runId),
      runs.slice(0, 2),
    );
    assert.ok(first.nextCursor);
    assert.ok(first.counts.all >= before + 5);
    assert.ok((first.counts.kinds.approval ?? 0) >= before + 5);
    const second = await ask(alice, 'inbox:watch', { ...query, limit: 2, cursor: first.nextCursor });
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.deepEqual(
      second.requests.map((r) => r.runId),
      runs.slice(2, 4),
    );
    assert.ok(second.nextCursor, 'one more after these');
    const wrong = await ask(alice, 'inbox:watch', { ...query, kind: 'review', cursor: second.nextCursor });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.error.field, 'cursor', 'a cursor is for the query watched');
    const bad = await ask(alice, 'inbox:watch', { ...query, limit: 0 });
    assert.deepEqual([bad.ok, bad.error.code, bad.error.field], [false, 'SOCKET.INVALID_PAYLOAD', 'limit']);

    // only "claimed by me", and only reviews: other watches of the same user
    const mineSocket = await connect(server, 'alice');
    sockets.push(mineSocket);
    const mine = new Recorder(mineSocket);
    const mineAck = await ask(mineSocket, 'inbox:watch', { mine: true });
    assert.deepEqual([mineAck.total, mineAck.requests.length, mineAck.nextCursor], [0, 0, undefined]);
    const reviewsSocket = await connect(server, 'alice');
    sockets.push(reviewsSocket);
    const reviews = new Recorder(reviewsSocket);
    assert.equal((await ask(reviewsSocket, 'inbox:watch', { kind: 'review' })).ok, true);

    // a request on the pages is claimed by another: it is pushed, listed, claimed
    const bob = server.client('bob');
    assert.equal((await bob.post(`/api/requests/${requestOf(runs[0]).id}/claim`, {})).status, 200);
    const claimed = await waitFor('the claim pushed', () =>
      seen.inbox().find((c) => c.request?.id === requestOf(runs[0]).id),
    );
    assert.deepEqual([claimed.listed, claimed.request?.claimedBy], [true, 'bob']);
    // a new approval sorts after the pages (newest last): only the total and the counts move
    const late: string = (
      await carol.post('/api/runs', { workflow: 'refund-desk', input: 'Please refund $130 for #P9' })
    ).body.runId;
    const moved = await waitFor('the total moves', () => seen.inbox().find((c) => c.total === before + 6));
    assert.equal(moved.request, undefined, 'a request past the pages is not sent');
    // past the pages and no count of alice's changes: nothing at all
    assert.equal((await bob.post(`/api/requests/${requestOf(runs[4]).id}/claim`, {})).status, 200);
    // decided: it leaves the pages
    const decided = await bob.post(`/api/requests/${requestOf(runs[1]).id}/decision`, {
      decision: 'approve',
    });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    const left = await waitFor('the decision pushed', () =>
      seen.inbox().find((c) => c.request?.id === requestOf(runs[1]).id && c.listed === false),
    );
    assert.equal(left.request?.status, 'resolved');
    assert.equal(left.total, before + 5);
    const pushed = seen.inbox();
    assert.ok(
      !pushed.some((c) => c.request?.id === requestOf(runs[4]).id || c.request?.runId === late),
      'nothing about requests past the pages',
    );
    const seqs = pushed.map((c) => c.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'seq counts the pushes of the connection, from 1',
    );

    // alice claims one: it comes onto her "claimed by me" watch, with the counts
    await server.client('alice').post(`/api/requests/${requestOf(runs[2]).id}/claim`, {});
    const onMine = await waitFor('claimed by me pushed', () =>
      mine.inbox().find((c) => c.request?.id === requestOf(runs[2]).id),
    );
    assert.deepEqual([onMine.listed, onMine.total, onMine.counts.mine], [true, 1, 1]);
    // the reviews watch was told of no approval, only of its counts
    await waitFor('the reviews watch saw the counts move', () =>
      reviews.inbox().some((c) => c.counts.mine === 1) ? true : undefined,
    );
    assert.ok(
      reviews.inbox().every((c) => c.request === undefined),
      'no request pushed to a watch that does not list it',
    );
    assert.ok(reviews.inbox().every((c) => c.total === 0));
  });

  it('the client follows a page: more() brings the next, setQuery another query, changes keep it current', async () => {
    const carol = server.client('carol');
    const runs: string[] = [];
    for (let i = 0; i < 3; i++)
      runs.push(
        (
          await carol.post('/api/runs', {
            workflow: 'refund-desk',
            input: `Please refund $${140 + i} for #C${i}`,
          })
        ).body.runId,
      );
    const parley = new ParleyClient({ baseUrl: server.url, token: TEST_USERS.alice.token });
    await waitFor('three approvals open', async () => {
      const { requests } = await parley.requestsPage({ kind: 'approval', limit: 500 });
      return runs.every((id) => requests.some((r) => r.runId === id)) ? true : undefined;
    });
    const states: InboxState[] = [];
    const watch = parley.watchInbox({
      query: { runId: runs[0], limit: 1 },
      onChange: (state) => states.push(state),
    });
    try {
      await watch.ready;
      assert.deepEqual(
        watch.requests.map((r) => r.runId),
        [runs[0]],
      );
      assert.equal(watch.state.total, 1);
      assert.equal(watch.state.hasMore, false);
      watch.setQuery({ q: '#C', kind: 'approval', sort: 'age', limit: 1 });
      await waitFor('the new query answered', () => (watch.state.total === 3 ? true : undefined));
      assert.deepEqual(
        watch.requests.map((r) => r.runId),
        [runs[0]],
      );
      assert.equal(watch.state.hasMore, true);
      watch.more();
      await waitFor('the second page', () => (watch.requests.length === 2 ? true : undefined));
      watch.more();
      await waitFor('the third page', () => (watch.requests.length === 3 ? true : undefined));
      assert.deepEqual(
        watch.requests.map((r) => r.runId),
        runs,
      );
      assert.deepEqual(
        watch.state.groups.map((g) => g.runId),
        runs,
      );
      assert.equal(watch.state.hasMore, false);
      const decided = await server
        .client('bob')
        .post(`/api/requests/${watch.requests[1].id}/decision`, { decision: 'approve' });
      assert.equal(decided.status, 200);
      await waitFor('it left the list', () => (watch.requests.length === 2 ? true : undefined));
      assert.deepEqual(
        watch.requests.map((r) => r.runId),
        [runs[0], runs[2]],
      );
      assert.equal(watch.state.total, 2);
    } finally {
      watch.close();
    }
  });
});
