import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
import {
  after,
  decide,
  events,
  modelCalls,
  quoted,
  startRun,
  typesOf,
  waitForRequest,
  waitForStatus,
} from './helpers';

const WORKERS = ['market-analyst', 'financial-analyst', 'competition-analyst'];

/** Concurrent pattern (`market-analysis`): three analysts in parallel, an aggregator, a human validation. */
describe('market-analysis (concurrent) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('fans out to three workers in one batch, aggregates, waits for validation, completes with the aggregate', async () => {
    const alice = server.client('alice');
    const question = 'Should we launch an electric scooter in Lisbon?';
    const runId = await startRun(alice, 'market-analysis', question);
    const { request } = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'result',
      'the result validation',
    );
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.started',
      'model-call.started',
      'model-call.completed',
      'model-call.completed',
      'model-call.completed',
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    // One batch: the three starts are consecutive, before any answer, and written by one append.
    const starts = log.slice(1, 4);
    assert.deepEqual(
      starts.map((e) => e.data.purpose),
      WORKERS.map((w) => `worker:${w}`),
    );
    assert.deepEqual(
      starts.map((e) => e.data.agent),
      WORKERS,
    );
    assert.equal(new Set(starts.map((e) => e.data.callId)).size, 3);
    assert.equal(new Set(starts.map((e) => e.at)).size, 1, 'the three starts were appended together');
    const answers = log.slice(4, 7);
    assert.deepEqual(new Set(answers.map((e) => e.data.callId)), new Set(starts.map((e) => e.data.callId)));
    for (const a of answers)
      assert.ok(a.data.content.includes(quoted(question)), `each worker got the question: ${a.data.content}`);

    const aggregate = modelCalls(log, 'aggregate')[0];
    assert.equal(aggregate.data.agent, 'lead-analyst');
    assert.ok(
      aggregate.data.content.includes('You wrote: "Request: Should we launch'),
      aggregate.data.content,
    );
    assert.equal(request.kind, 'review');
    assert.deepEqual(request.subject, { type: 'result' });
    assert.equal(request.payload.output, aggregate.data.content);
    for (const w of WORKERS)
      assert.ok(request.payload.results.includes(`[${w}] I am the`), `the reviewer sees the ${w}'s result`);

    await decide(alice, request.id, { decision: 'approve', comment: 'Good enough' });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 10)), [
      'human-decision.recorded',
      'human-request.resolved',
      'run.completed',
    ]);
    assert.equal(log[12].data.output, aggregate.data.content);
    assert.equal(done.output, aggregate.data.content);
  });

  it('feedback on the aggregate has only the aggregator redo it (the workers are not called again)', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'market-analysis', 'Is there demand for vegan cafes in Oslo?');
    const first = await waitForRequest(alice, runId, (r) => r.subject.type === 'result');
    await decide(alice, first.request.id, { decision: 'feedback', comment: 'Add a clear recommendation' });
    const second = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'result' && r.id !== first.request.id,
      'a second validation',
    );
    const log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 10)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    const aggregates = modelCalls(log, 'aggregate');
    assert.equal(aggregates.length, 2);
    assert.ok(
      aggregates[1].data.content.includes(quoted('Feedback: Add a clear recommendation')),
      aggregates[1].data.content,
    );
    for (const w of WORKERS) assert.equal(modelCalls(log, `worker:${w}`).length, 1);
    await decide(alice, second.request.id, {
      decision: 'edit',
      payload: { output: 'Recommendation: open two cafes.' },
    });
    const done = await waitForStatus(alice, runId, 'completed');
    assert.equal(done.output, 'Recommendation: open two cafes.');
  });
});
