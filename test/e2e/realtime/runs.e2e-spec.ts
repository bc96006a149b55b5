import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '@parley/contracts';
import { ParleyProcess, waitFor } from '@parley/testing';
import type { Socket } from 'socket.io-client';
import { ask, connect, contiguous, Recorder, type Reply } from './socket-client';

/** Runs over WebSocket: live events from the log, humans joining, approvals, reconnects, tokens. */
describe('realtime: runs', () => {
  let server: ParleyProcess;
  const sockets: Socket[] = [];
  const open = async (user: Parameters<typeof connect>[1]): Promise<Socket> => {
    const socket = await connect(server, user);
    sockets.push(socket);
    return socket;
  };
  const restEvents = async (runId: string): Promise<EventEnvelope[]> =>
    (await server.client('victor').get(`/api/runs/${runId}/events`)).body.events;
  const start = async (workflow: string, input: string): Promise<string> => {
    const res = await server.client('carol').post('/api/runs', { workflow, input });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.runId;
  };
  const ended = (e: EventEnvelope): boolean =>
    ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type);

  before(async () => {
    // tokens stream slowly enough to be seen, and to leave time to disconnect mid-run
    server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '2' } });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server.dispose();
  });

  it('a human joins a running debate, takes the floor with run:message, and is answered', async () => {
    const runId = await start('debate', 'Remote work beats the office');
    const carol = await open('carol');
    const recorder = new Recorder(carol);
    const watch = await ask(carol, 'run:watch', { runId, afterSeq: 0 });
    assert.equal(watch.ok, true);
    assert.equal(watch.runId, runId);
    assert.ok(watch.headSeq >= 1);
    assert.equal(watch.replayed, watch.headSeq);
    assert.ok(
      contiguous(recorder.events(runId)) && recorder.events(runId).length >= watch.headSeq,
      'the catch-up is sent before the ack',
    );

    const floor = await recorder.event(
      runId,
      'the floor opens for a human',
      (e) => e.type === 'human-request.opened',
    );
    const request = floor.data as { requestId: string; kind: string; roles: string[] };
    assert.equal(request.kind, 'input');
    assert.deepEqual(request.roles, ['participant']);

    const text = 'Commutes waste ten hours every week';
    const posted = await ask(carol, 'run:message', { runId, text });
    assert.equal(posted.ok, true, JSON.stringify(posted));
    assert.equal(posted.runId, runId);
    assert.equal(typeof posted.seq, 'number');

    const resolved = await recorder.event(
      runId,
      'the floor request is answered',
      (e) =>
        e.type === 'human-request.resolved' &&
        (e.data as { requestId: string }).requestId === request.requestId,
    );
    assert.equal((resolved.data as { outcome: string }).outcome, 'answer');
    const reply = await recorder.event(
      runId,
      'the next agent speaks',
      (e) => e.type === 'model-call.completed' && e.seq > resolved.seq,
    );
    // the offline model quotes the last user message: the human's, as the transcript shows it
    assert.match(
      (reply.data as { content: string }).content,
      new RegExp(`You wrote: "(\\[\\w+\\] )?${text}"`),
    );

    await recorder.event(runId, 'the debate ends', ended, 60_000);
    const rest = await restEvents(runId);
    assert.deepEqual(recorder.events(runId), rest, 'every event exactly once, in order, as stored');
  });

  it('an approval decided over WebSocket resumes the run, and the watcher sees it complete', async () => {
    const runId = await start('refund-desk', 'Please refund $120 for order #A123');
    const carol = await open('carol');
    const alice = await open('alice');
    const victor = await open('victor');
    const recorder = new Recorder(carol);
    assert.equal((await ask(carol, 'run:watch', { runId, afterSeq: 0 })).ok, true);
    const opened = await recorder.event(
      runId,
      'an approval is requested',
      (e) => e.type === 'human-request.opened',
    );
    const { requestId, kind } = opened.data as { requestId: string; kind: string };
    assert.equal(kind, 'approval');

    const byCarol = await ask(carol, 'request:decide', { requestId, decision: 'approve' });
    assert.deepEqual(
      [byCarol.ok, byCarol.error.code],
      [false, 'REQUEST.FORBIDDEN'],
      'a participant may not decide an approval for approvers',
    );
    const byVictor = await ask(victor, 'request:decide', { requestId, decision: 'approve' });
    assert.deepEqual([byVictor.ok, byVictor.error.code], [false, 'REQUEST.FORBIDDEN']);
    const claimed = await ask(alice, 'request:claim', { requestId });
    assert.deepEqual(claimed, { ok: true, requestId, status: 'claimed', by: 'alice' });

    const decided = await ask(alice, 'request:decide', {
      requestId,
      decision: 'approve',
      comment: 'the customer is entitled',
    });
    assert.deepEqual(decided, { ok: true, requestId, status: 'resolved' });
    const again = await ask(alice, 'request:decide', { requestId, decision: 'approve' });
    assert.deepEqual(
      again,
      { ok: true, requestId, status: 'unchanged' },
      'the same decision again changes nothing',
    );
    const late = await ask(alice, 'request:decide', { requestId, decision: 'reject' });
    assert.equal(late.ok, false);
    assert.equal(late.error.code, 'REQUEST.CLOSED');

    const completed = await recorder.event(
      runId,
      'the run completes',
      (e) => e.type === 'run.completed',
      30_000,
    );
    assert.ok(completed);
    const run = (await server.client('alice').get(`/api/runs/${runId}`)).body;
    assert.equal(run.status, 'completed');
    assert.equal(
      (await server.client('alice').get(`/api/refunds?runId=${runId}`)).body.refunds.length,
      1,
      'refunded once',
    );
    const decision = recorder.events(runId).find((e) => e.type === 'human-decision.recorded');
    assert.equal((decision?.actor as { id: string }).id, 'alice');
    assert.deepEqual(recorder.events(runId), await restEvents(runId));
  });

  it("an approver re-routes a handoff run with run:handoff (a participant may not: the routing review is approvers')", async () => {
    const runId = await start('support-triage', 'I was charged twice on my last invoice');
    const participant = await open('carol');
    const carol = await open('bob');
    const recorder = new Recorder(carol);
    assert.equal((await ask(carol, 'run:watch', { runId, afterSeq: 0 })).ok, true);
    await recorder.event(runId, 'the routing review opens', (e) => e.type === 'human-request.opened');
    const refused = await ask(participant, 'run:handoff', { runId, to: 'general', reason: 'mine' });
    assert.equal(refused.error.code, 'RUN.FORBIDDEN');
    const unknown = await ask(carol, 'run:handoff', { runId, to: 'astrologer', reason: 'stars' });
    assert.deepEqual([unknown.error.code, unknown.error.field], ['HANDOFF.UNKNOWN_AGENT', 'to']);
    const rerouted = await ask(carol, 'run:handoff', {
      runId,
      to: 'general',
      reason: 'a question for general support',
    });
    assert.equal(rerouted.ok, true, JSON.stringify(rerouted));
    const overridden = await recorder.event(
      runId,
      'the override is stored',
      (e) => e.type === 'handoff.overridden',
    );
    assert.equal(overridden.seq, rerouted.seq);
    assert.deepEqual((overridden.data as { to: string; by: { id: string } }).to, 'general');
    const debate = await start('debate', 'Handoffs are overrated');
    assert.equal(
      (await ask(carol, 'run:handoff', { runId: debate, to: 'skeptic', reason: 'try' })).error.code,
      'HANDOFF.NOT_A_HANDOFF_RUN',
    );
  });

  it('reconnecting with afterSeq delivers exactly the missed events: contiguous, no duplicate, as stored', async () => {
    const runId = await start('debate', 'Static typing prevents most bugs');
    const received: EventEnvelope[] = [];
    let last = 0;
    let reconnects = 0;
    const watchFrom = async (
      afterSeq: number,
    ): Promise<{ socket: Socket; recorder: Recorder; ack: Reply }> => {
      const socket = await open('carol');
      const recorder = new Recorder(socket);
      const ack = await ask(socket, 'run:watch', { runId, afterSeq });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const replay = recorder.events(runId).slice(0, ack.replayed);
      assert.equal(ack.replayed, ack.headSeq - afterSeq);
      assert.deepEqual(
        replay.map((e) => e.seq),
        Array.from({ length: ack.replayed }, (_, i) => afterSeq + 1 + i),
        'the catch-up: exactly the events after afterSeq, up to the head',
      );
      return { socket, recorder, ack };
    };
    const drop = (session: { socket: Socket; recorder: Recorder }): void => {
      session.socket.close();
      const got = session.recorder.events(runId);
      received.push(...got);
      if (got.length) last = got[got.length - 1].seq;
      reconnects += 1;
    };

    // watch from the start, leave after a few events
    let session = await watchFrom(0);
    await waitFor('a few events', () => session.recorder.events(runId).length >= 4);
    drop(session);
    // the run goes on without us until the floor opens for a human
    await waitFor('the run moves on while we are away', async () =>
      (await restEvents(runId)).some((e) => e.type === 'human-request.opened'),
    );
    session = await watchFrom(last);
    assert.ok(session.ack.replayed > 0, 'events were missed and are replayed');
    // answer the floor (REST), then drop and come back repeatedly while the debate streams on
    const answered = await server
      .client('carol')
      .post(`/api/runs/${runId}/messages`, { text: 'What about runtime errors?' });
    assert.equal(answered.status, 201);
    let done = false;
    while (!done) {
      const seen = session.recorder.events(runId).length;
      await waitFor(
        'more events, or the end',
        () => session.recorder.events(runId).length > seen + 2 || session.recorder.events(runId).some(ended),
        { timeoutMs: 30_000 },
      );
      done = session.recorder.events(runId).some(ended);
      if (!done) {
        drop(session);
        session = await watchFrom(last);
      }
    }
    drop(session);
    assert.ok(reconnects >= 3, `${reconnects} reconnects`);
    assert.ok(contiguous(received), `seqs: ${received.map((e) => e.seq).join(',')}`);
    assert.deepEqual(received, await restEvents(runId), 'the same events as GET /api/runs/:id/events');

    // a finished run: the full replay, and afterSeq beyond the head is refused
    const late = await open('victor');
    const lateRecorder = new Recorder(late);
    const all = await ask(late, 'run:watch', { runId, afterSeq: 0 });
    assert.deepEqual([all.headSeq, all.replayed], [received.length, received.length]);
    assert.deepEqual(lateRecorder.events(runId), received);
    const ahead = await ask(late, 'run:watch', { runId, afterSeq: received.length + 5 });
    assert.deepEqual(
      [ahead.ok, ahead.error.code, ahead.error.field],
      [false, 'SOCKET.AFTER_SEQ_AHEAD', 'afterSeq'],
    );
    const fromHead = await ask(late, 'run:watch', { runId });
    assert.deepEqual(
      [fromHead.ok, fromHead.headSeq, fromHead.replayed],
      [true, received.length, 0],
      'without afterSeq: from the head, nothing replayed',
    );
  });

  it('run:watch without afterSeq sends only new events, starting right after the acked head', async () => {
    const runId = await start('debate', 'Four-day weeks should be the norm');
    const carol = await open('carol');
    const recorder = new Recorder(carol);
    const ack = await ask(carol, 'run:watch', { runId });
    assert.equal(ack.replayed, 0);
    await recorder.event(runId, 'the floor opens', (e) => e.type === 'human-request.opened');
    assert.ok(contiguous(recorder.events(runId), ack.headSeq + 1));
    // unwatch: no more events for this run
    assert.deepEqual(await ask(carol, 'run:unwatch', { runId }), { ok: true, runId, watching: false });
    const count = recorder.events(runId).length;
    await server.client('carol').post(`/api/runs/${runId}/messages`, { text: 'Productivity stays the same' });
    const bob = await open('bob');
    const bobRecorder = new Recorder(bob);
    await ask(bob, 'run:watch', { runId, afterSeq: count + ack.headSeq });
    await bobRecorder.event(runId, 'the run goes on', (e) => e.type === 'human-request.resolved');
    await ask(carol, 'inbox:watch', {}); // a round trip after the event was stored
    assert.equal(recorder.events(runId).length, count, 'nothing after run:unwatch');
  });

  it('run:token deltas arrive while an agent speaks, only to sockets watching the run', async () => {
    const watcher = await open('carol');
    const bystander = await open('bob');
    const recorder = new Recorder(watcher);
    const bystanderRecorder = new Recorder(bystander);
    const runId = await start('debate', 'Open offices help collaboration');
    assert.equal((await ask(watcher, 'run:watch', { runId, afterSeq: 0 })).ok, true);
    // tokens come coalesced (one run:token per agent per 25 ms), several per turn at 2 ms a token
    await waitFor('tokens stream', () => recorder.tokens(runId).length >= 3);
    for (const token of recorder.tokens(runId)) {
      assert.equal(token.runId, runId);
      assert.ok(['optimist', 'skeptic', 'moderator'].includes(token.agent), token.agent);
      assert.equal(typeof token.delta, 'string');
    }
    // a whole turn streamed while we watched: its tokens spell the stored message
    const floor = await recorder.event(runId, 'the floor opens', (e) => e.type === 'human-request.opened');
    const tokensBefore = recorder.received.length;
    await ask(watcher, 'run:message', { runId, text: 'Noise kills focus' });
    const reply = await recorder.event(
      runId,
      'the next turn',
      (e) => e.type === 'model-call.completed' && e.seq > floor.seq,
    );
    const { agent, content } = reply.data as { agent: string; content: string };
    const streamed = recorder.received
      .slice(tokensBefore)
      .flatMap((r) =>
        r.kind === 'token' && r.token.runId === runId && r.token.agent === agent ? [r.token.delta] : [],
      )
      .join('');
    assert.ok(
      streamed.startsWith(content),
      `streamed ${JSON.stringify(streamed.slice(0, 80))}…, stored ${JSON.stringify(content.slice(0, 80))}…`,
    );
    assert.equal(bystanderRecorder.tokens().length, 0, 'no tokens for a socket that does not watch the run');
  });
});
