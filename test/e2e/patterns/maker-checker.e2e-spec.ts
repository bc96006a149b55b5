import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  after,
  assertError,
  decide,
  events,
  modelCalls,
  quoted,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

/** Maker-checker: a human checker (`press-release`) and an agent checker (`press-release-auto`). */
describe('press-release (maker-checker) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('a human checker sends feedback twice; in the last round feedback is no longer offered; approve completes', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'press-release', 'We launch Parley 1.0 next Monday');
    const draftRequest = (round: number) =>
      waitForRequest(
        alice,
        runId,
        (r) => r.subject.type === 'draft' && r.subject.round === round,
        `the review of draft ${round}`,
      );

    const r1 = await draftRequest(1);
    assert.equal(r1.request.kind, 'review');
    assert.deepEqual(r1.request.decisions, ['approve', 'feedback', 'edit', 'reject']);
    assert.equal(r1.request.payload.round, 1);
    await decide(alice, r1.request.id, { decision: 'feedback', comment: 'Mention the open-source licence' });

    const r2 = await draftRequest(2);
    assert.deepEqual(r2.request.decisions, ['approve', 'feedback', 'edit', 'reject']);
    await decide(server.client('bob'), r2.request.id, {
      decision: 'feedback',
      comment: 'Shorter headline please',
    });

    const r3 = await draftRequest(3);
    assert.deepEqual(r3.request.decisions, ['approve', 'edit', 'reject'], 'no feedback in the last round');
    assert.match(r3.request.title, /draft 3 of 3/);
    const refused = await alice.post(`/api/requests/${r3.request.id}/decision`, {
      decision: 'feedback',
      comment: 'One more round',
    });
    assertError(refused, 400, 'REQUEST.DECISION_NOT_ALLOWED', 'decision');

    let log = await events(alice, runId);
    const drafts = modelCalls(log, 'draft');
    assert.equal(drafts.length, 3);
    assert.ok(
      drafts[1].data.content.includes(quoted('Feedback: Mention the open-source licence')),
      drafts[1].data.content,
    );
    assert.ok(
      drafts[2].data.content.includes(quoted('Feedback: Shorter headline please')),
      drafts[2].data.content,
    );
    assert.equal(r3.request.payload.draft, drafts[2].data.content);
    const round = ['model-call.started', 'model-call.completed', 'human-request.opened'];
    const decided = ['human-decision.recorded', 'human-request.resolved'];
    assert.deepEqual(typesOf(log), ['run.started', ...round, ...decided, ...round, ...decided, ...round]);

    await decide(alice, r3.request.id, { decision: 'approve' });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 14)), [...decided, 'run.completed']);
    assert.equal(done.output, drafts[2].data.content);
  });

  it('an edit by the human checker becomes the output', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'press-release', 'We open an office in Porto');
    const { request } = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'draft' && r.subject.round === 1,
    );
    const bad = await alice.post(`/api/requests/${request.id}/decision`, {
      decision: 'edit',
      payload: { text: 'x' },
    });
    assertError(bad, 400, 'REQUEST.INVALID_PAYLOAD');
    await decide(alice, request.id, {
      decision: 'edit',
      payload: { draft: 'Parley opens an office in Porto.' },
    });
    const done = await waitForStatus(alice, runId, 'completed');
    assert.equal(done.output, 'Parley opens an office in Porto.');
  });

  it('an agent checker returns "revise" then "approve": two drafts, completed with the second', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'press-release-auto', 'We launch Parley 1.0 next Monday');
    const done = await waitForStatus(alice, runId, 'completed');
    const log = await events(alice, runId);
    const call = ['model-call.started', 'model-call.completed'];
    assert.deepEqual(typesOf(log), ['run.started', ...call, ...call, ...call, ...call, 'run.completed']);
    const drafts = modelCalls(log, 'draft');
    const checks = modelCalls(log, 'check');
    assert.equal(drafts.length, 2);
    assert.deepEqual(
      drafts.map((d) => d.data.agent),
      ['copywriter', 'copywriter'],
    );
    assert.deepEqual(
      checks.map((c) => c.data.agent),
      ['compliance', 'compliance'],
    );
    assert.deepEqual(
      checks.map((c) => c.data.structured.verdict),
      ['revise', 'approve'],
    );
    assert.ok(
      drafts[1].data.content.includes(quoted(`Feedback: ${checks[0].data.structured.feedback}`)),
      'the second draft answers the checker',
    );
    assert.equal(done.output, drafts[1].data.content);
    assert.equal(log[log.length - 1].data.output, drafts[1].data.content);
  });
});
