import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  CONTENT_PIPELINE_APPROVED,
  after,
  decide,
  runContentPipelineApproved,
  events,
  findEvent,
  modelCalls,
  quoted,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

/** Sequential pattern (`content-pipeline`): writer → review → editor → review → publisher. */
describe('content-pipeline (sequential) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('feedback has the writer redo its draft, an edit reaches the publisher, and the run completes', async () => {
    const alice = server.client('alice');
    const topic = 'Write about solar power in cities';
    const runId = await startRun(alice, 'content-pipeline', topic);

    // Stage 0: the writer drafts, and the run waits for a review of stage 0.
    const first = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'stage' && r.subject.index === 0,
      'the stage 0 review',
    );
    assert.equal(first.request.kind, 'review');
    assert.deepEqual(first.request.decisions, ['approve', 'feedback', 'edit', 'reject']);
    assert.deepEqual(first.request.roles, ['approver']);
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    assert.equal(log[0].data.input, topic);
    assert.equal(log[0].data.workflow.name, 'content-pipeline');
    assert.deepEqual([log[1].data.agent, log[1].data.purpose], ['writer', 'stage:0']);
    const draft1 = log[2].data.content as string;
    assert.ok(draft1.includes(quoted(topic)), draft1);
    assert.equal(first.request.payload.output, draft1);
    assert.equal(log[3].data.requestId, first.request.id);

    // Feedback: the writer runs again and sees the feedback.
    const feedback = 'Focus on rooftop panels and give one number';
    await decide(alice, first.request.id, { decision: 'feedback', comment: feedback });
    const second = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'stage' && r.subject.index === 0 && r.id !== first.request.id,
      'the second stage 0 review',
    );
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 4)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    assert.deepEqual(log[4].data.by, { id: 'alice', role: 'approver' });
    assert.equal(log[4].data.decision, 'feedback');
    assert.equal(log[4].data.comment, feedback);
    assert.equal(log[5].data.outcome, 'feedback');
    const writerCalls = modelCalls(log, 'stage:0');
    assert.equal(writerCalls.length, 2, 'the writer was called a second time');
    assert.equal(writerCalls[1].data.agent, 'writer');
    assert.ok(
      writerCalls[1].data.content.includes(quoted(`Feedback: ${feedback}`)),
      `the second draft answers the feedback: ${writerCalls[1].data.content}`,
    );
    assert.equal(
      second.request.payload.output,
      writerCalls[1].data.content,
      'the new review shows the new draft',
    );

    // Approve: the editor works on the second draft; review of stage 1.
    await decide(alice, second.request.id, { decision: 'approve' });
    const third = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'stage' && r.subject.index === 1,
      'the stage 1 review',
    );
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 9)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    const editorCall = modelCalls(log, 'stage:1')[0];
    assert.equal(editorCall.data.agent, 'editor');
    assert.ok(
      editorCall.data.content.includes(quoted(writerCalls[1].data.content)),
      `the editor got the approved draft: ${editorCall.data.content}`,
    );
    assert.equal(third.request.payload.agent, 'editor');

    // Edit: the publisher receives the human's text, not the editor's.
    const edited = 'EDITED: Rooftop solar can power a third of city homes by 2035.';
    await decide(alice, third.request.id, { decision: 'edit', payload: { output: edited } });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 14)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'run.completed',
    ]);
    assert.deepEqual(log[14].data.payload, { output: edited });
    const publisher = modelCalls(log, 'stage:2')[0];
    assert.equal(publisher.data.agent, 'publisher');
    assert.ok(
      publisher.data.content.includes(quoted(edited)),
      `the publisher got the edited text: ${publisher.data.content}`,
    );
    assert.ok(
      !publisher.data.content.includes('I am the editor'),
      "the editor's own version did not reach the publisher",
    );
    const completed = findEvent(log, 'run.completed');
    assert.equal(completed.data.output, publisher.data.content);
    assert.equal(done.output, publisher.data.content);
    assert.equal(done.pendingRequests.length, 0);
    assert.equal(log.length, 19);
    // Agents' events are the agents', humans' the humans', the engine's the system's.
    const kindOf = (type: string): string =>
      type.startsWith('model-call.')
        ? 'agent'
        : type === 'human-request.opened' || type === 'run.completed'
          ? 'system'
          : 'human';
    for (const e of log) assert.equal(e.actor.kind, kindOf(e.type), `actor of ${e.type}@${e.seq}`);
  });

  it("with both reviews approved, each stage gets the previous stage's output", async () => {
    const { log, output } = await runContentPipelineApproved(
      server.client('alice'),
      'Write about bike lanes',
    );
    assert.deepEqual(typesOf(log), CONTENT_PIPELINE_APPROVED);
    const [writer, editor, publisher] = [0, 1, 2].map((i) => modelCalls(log, `stage:${i}`)[0].data);
    assert.deepEqual([writer.agent, editor.agent, publisher.agent], ['writer', 'editor', 'publisher']);
    assert.ok(editor.content.includes(quoted(writer.content)));
    assert.ok(publisher.content.includes(quoted(editor.content)));
    assert.equal(output, publisher.content);
  });

  it('a reviewer who rejects a stage cancels the run; a decision on a closed request is refused', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'content-pipeline', 'Write about urban beekeeping');
    const { request } = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'stage' && r.subject.index === 0,
    );
    await decide(alice, request.id, { decision: 'reject', comment: 'Off topic for our magazine' });
    const view = await waitForStatus(alice, runId, 'cancelled');
    assert.match(view.failure!.message, /stage 0 rejected by a reviewer: Off topic for our magazine/);
    const log = await events(alice, runId);
    assert.deepEqual(typesOf(log).slice(-3), [
      'human-decision.recorded',
      'human-request.resolved',
      'run.cancelled',
    ]);
    const late = await server
      .client('bob')
      .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'REQUEST.CLOSED');
    assert.equal((await events(alice, runId)).length, log.length, 'nothing appended');
  });
});
