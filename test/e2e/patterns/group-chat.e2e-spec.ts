import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess, waitFor } from '@parley/testing';
import {
  after,
  assertError,
  decide,
  events,
  modelCalls,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

const MOTION = 'Remote work is better than office work';
const turn = ['speaker.selected', 'model-call.started', 'model-call.completed'];

/** Group chat (`debate`): round-robin debaters, a human seat after the opening round. */
describe('debate (group chat) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    // The offline model streams with a small delay per token, so that a run is observably running.
    server = await ParleyProcess.start({ env: { OFFLINE_MODEL_TOKEN_LATENCY_MS: '5' } });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('gives a human the floor after the opening round; the next speaker answers the human; the debate terminates', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'debate', MOTION);
    const { request } = await waitForRequest(carol, runId, (r) => r.subject.type === 'floor', 'the floor');
    let log = await events(carol, runId);
    assert.deepEqual(typesOf(log), ['run.started', ...turn, ...turn, ...turn, 'human-request.opened']);
    assert.deepEqual(
      log.filter((e) => e.type === 'speaker.selected').map((e) => e.data.speaker),
      ['optimist', 'skeptic', 'moderator'],
    );
    assert.deepEqual(
      modelCalls(log, 'turn').map((e) => e.data.agent),
      ['optimist', 'skeptic', 'moderator'],
    );
    assert.equal(request.kind, 'input');
    assert.deepEqual(request.subject, { type: 'floor', turn: 3 });
    assert.deepEqual(request.decisions, ['answer', 'skip']);
    assert.deepEqual(request.roles, ['participant']);
    assert.match(request.ask, /moderator gives the floor/);
    assert.equal(request.payload.topic, MOTION);
    // The floor is held for 2 minutes (debate.yaml: deadline 2m), then the debate continues without the human.
    assert.ok(request.deadline, 'the floor has a deadline');
    const held = Date.parse(request.deadline) - Date.parse(request.createdAt);
    assert.ok(held > 115_000 && held <= 120_000, `the floor is held ~2 minutes (${held} ms)`);
    assert.ok(Date.parse(request.deadline) > Date.now() + 100_000, 'the deadline is ahead');
    assert.deepEqual(request.onTimeout, { action: 'continue' });

    // A human speaks: the message answers the floor.
    const said = 'Commuting wastes two hours every day';
    const answer = await carol.post(`/api/runs/${runId}/messages`, { text: said });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.seq, 13, 'the message answered the floor: decision (12) and resolution (13)');

    const done = await waitForStatus(carol, runId, 'completed');
    log = await events(carol, runId);
    assert.deepEqual(typesOf(after(log, 11)), [
      'human-decision.recorded',
      'human-request.resolved',
      ...turn,
      ...turn,
      ...turn,
      'run.completed',
    ]);
    assert.equal(log[11].data.requestId, request.id);
    assert.equal(log[11].data.decision, 'answer');
    assert.equal(log[11].data.comment, said);
    assert.deepEqual(log[11].data.by, { id: 'carol', role: 'participant' });
    assert.equal(log[12].data.outcome, 'answer');
    const turns = modelCalls(log, 'turn');
    assert.deepEqual(
      turns.map((t) => t.data.agent),
      ['optimist', 'skeptic', 'moderator', 'optimist', 'skeptic', 'moderator'],
    );
    // The next speaker saw the human's words (the offline model quotes the last message it got).
    assert.ok(turns[3].data.content.includes(`You wrote: "[carol] ${said}"`), turns[3].data.content);
    assert.ok(!turns[2].data.content.includes('TERMINATE'), 'the moderator did not end the opening round');
    assert.ok(turns[5].data.content.endsWith('TERMINATE'), turns[5].data.content);
    assert.ok(done.output!.includes(`[carol] ${said}`), 'the human is part of the debate record');
    assert.equal(done.output, log[log.length - 1].data.output);
    assert.ok(done.transcript.some((t) => t.role === 'human' && t.speaker === 'carol' && t.content === said));

    // The run has ended: nobody speaks any more.
    assertError(await carol.post(`/api/runs/${runId}/messages`, { text: 'Wait!' }), 409, 'RUN.ENDED');
    assert.equal((await events(carol, runId)).length, log.length);
  });

  it('a message posted while the debate runs (no floor open) is recorded as human-message.posted', async () => {
    const maya = server.client('maya');
    const runId = await startRun(maya, 'debate', 'Cities should ban cars from their centres');
    // While the first speaker is still talking (the floor opens only after three turns).
    await waitFor('the first turn to start', async () =>
      (await events(maya, runId)).some((e) => e.type === 'model-call.started'),
    );
    const said = 'Delivery vans need access though';
    const answer = await maya.post(`/api/runs/${runId}/messages`, { text: said });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));

    const { request } = await waitForRequest(maya, runId, (r) => r.subject.type === 'floor', 'the floor');
    let log = await events(maya, runId);
    const posted = log[answer.body.seq - 1];
    assert.equal(posted.type, 'human-message.posted');
    assert.deepEqual(posted.data, { by: { id: 'maya', role: 'participant' }, text: said });
    assert.deepEqual(posted.actor, { kind: 'human', id: 'maya' });
    const floorOpened = log.find((e) => e.type === 'human-request.opened')!;
    assert.ok(posted.seq < floorOpened.seq, 'posted before the floor opened: it did not answer a request');
    assert.equal(log.filter((e) => e.type === 'human-decision.recorded').length, 0);
    // Speakers who come after the message see it.
    assert.ok(request.payload.transcript.includes(`[maya] ${said}`), request.payload.transcript);

    // The human passes: the debate goes on and ends.
    await decide(maya, request.id, { decision: 'skip' });
    const done = await waitForStatus(maya, runId, 'completed');
    log = await events(maya, runId);
    assert.equal(log.filter((e) => e.type === 'human-message.posted').length, 1);
    assert.ok(done.output!.includes(`[maya] ${said}`));
    assert.equal(log[log.length - 1].type, 'run.completed');
  });

  it('refuses empty messages and viewers', async () => {
    const carol = server.client('carol');
    const runId = await startRun(carol, 'debate', MOTION);
    await waitForRequest(carol, runId, (r) => r.subject.type === 'floor');
    const before = (await events(carol, runId)).length;
    assertError(
      await carol.post(`/api/runs/${runId}/messages`, { text: '' }),
      400,
      'REQUEST.INVALID_BODY',
      'text',
    );
    assertError(
      await carol.post(`/api/runs/${runId}/messages`, { text: '   ' }),
      400,
      'MESSAGE.EMPTY',
      'text',
    );
    assertError(
      await server.client('victor').post(`/api/runs/${runId}/messages`, { text: 'hi' }),
      403,
      'AUTH.ROLE_REQUIRED',
    );
    assert.equal((await events(carol, runId)).length, before);
    const view = await waitForStatus(carol, runId, 'waiting');
    assert.equal(view.pendingRequests.length, 1);
  });
});
