import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { WorkflowSchema } from '@parley/contracts';
import {
  SYSTEM,
  callPlan,
  expired,
  given,
  loadWorkflow,
  modelCall,
  modelFailed,
  modelStarted,
  resolve,
} from '@parley/testing';
import { sha256 } from './shared';

const approver = { id: 'bob', role: 'approver' };

function reviewOpened(
  requestId: string,
  subject: unknown,
  title: string,
  ask: string,
  payload: unknown,
  decisions = ['approve', 'feedback', 'edit', 'reject'],
): NewEvent {
  return {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId,
      kind: 'review',
      subject,
      title,
      ask,
      payload,
      payloadHash: sha256(payload),
      decisions,
      roles: ['approver'],
      quorum: 1,
      fourEyes: false,
      requester: 'alice',
      deadline: null,
      onTimeout: null,
      escalation: undefined,
    },
  };
}

describe('sequential decider (content pipeline: writer → editor → publisher)', () => {
  const wf = loadWorkflow('content-pipeline');
  const INPUT = 'Why cities should plant more trees';
  const run = (...facts: Array<NewEvent | NewEvent[]>) =>
    given(wf, facts, { input: INPUT, requestedBy: 'alice' });
  const writerReview = (requestId: string, output: string) =>
    reviewOpened(
      requestId,
      { type: 'stage', index: 0 },
      'Review stage 1 (writer)',
      "Review the writer's output before it goes to the next stage: approve, edit it, or send feedback.",
      { stage: 0, agent: 'writer', output },
    );

  it('the first stage gets the input', () => {
    run()
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [callPlan(wf, 'writer', 'c-1', 'stage:0', [{ role: 'user', content: INPUT }])],
      });
  });

  it('a stage with a review opens a review request for its output', () => {
    run(modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }))
      .when({ ids: 'r' })
      .then({ kind: 'append', events: [writerReview('r-1', 'Draft 1')] });
  });

  it('feedback re-runs the stage with its earlier output and the feedback in its messages', () => {
    const g = run(
      modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
      writerReview('r1', 'Draft 1'),
      resolve('r1', 'feedback', approver, { comment: 'Shorter, please.' }),
    );
    g.when({ ids: 'c' }).then({
      kind: 'call-models',
      calls: [
        callPlan(wf, 'writer', 'c-1', 'stage:0', [
          { role: 'user', content: INPUT },
          { role: 'assistant', content: 'Draft 1' },
          { role: 'user', content: 'Feedback: Shorter, please.' },
        ]),
      ],
    });
    // the new version gets a new review
    g.and(modelCall('m2', 'writer', 'stage:0', { content: 'Draft 2' }))
      .when({ ids: 'r' })
      .then({ kind: 'append', events: [writerReview('r-1', 'Draft 2')] });
  });

  it('approve passes the output to the next stage', () => {
    run(
      modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
      writerReview('r1', 'Draft 1'),
      resolve('r1', 'approve', approver),
    )
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [callPlan(wf, 'editor', 'c-1', 'stage:1', [{ role: 'user', content: 'Draft 1' }])],
      });
  });

  it('edit passes the edited text on', () => {
    run(
      modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
      writerReview('r1', 'Draft 1'),
      resolve('r1', 'edit', approver, {
        payload: { stage: 0, agent: 'writer', output: 'Draft 1, edited by Bob' },
      }),
    )
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'editor', 'c-1', 'stage:1', [{ role: 'user', content: 'Draft 1, edited by Bob' }]),
        ],
      });
  });

  it('the last stage (no review) finishes the run with its output', () => {
    const editorReview = reviewOpened(
      'r2',
      { type: 'stage', index: 1 },
      'Review stage 2 (editor)',
      "Review the editor's output before it goes to the next stage: approve, edit it, or send feedback.",
      { stage: 1, agent: 'editor', output: 'Edited' },
    );
    const g = run(
      modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
      writerReview('r1', 'Draft 1'),
      resolve('r1', 'approve', approver),
      modelCall('m2', 'editor', 'stage:1', { content: 'Edited' }),
    );
    g.when({ ids: 'r' }).thenMatch((step) =>
      assert.deepStrictEqual(step, {
        kind: 'append',
        events: [{ ...editorReview, data: { ...(editorReview.data as object), requestId: 'r-1' } }],
      }),
    );
    g.and(editorReview, resolve('r2', 'approve', approver))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [callPlan(wf, 'publisher', 'c-1', 'stage:2', [{ role: 'user', content: 'Edited' }])],
      });
    g.and(
      editorReview,
      resolve('r2', 'approve', approver),
      modelCall('m3', 'publisher', 'stage:2', { content: 'PUBLISHED: Trees' }),
    )
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'PUBLISHED: Trees' } }],
      });
  });

  it('reject cancels the run', () => {
    run(
      modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
      writerReview('r1', 'Draft 1'),
      resolve('r1', 'reject', approver, { comment: 'Off topic' }),
    )
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.cancelled',
            actor: SYSTEM,
            data: { reason: 'stage 0 rejected by a reviewer: Off topic' },
          },
        ],
      });
  });

  it('after maxRevisions versions the review no longer offers feedback, nor mentions it in its ask', () => {
    const one = WorkflowSchema.parse({ ...wf, maxRevisions: 1 });
    const g = given(
      one,
      [
        modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
        writerReview('r1', 'Draft 1'),
        resolve('r1', 'feedback', approver, { comment: 'again' }),
        modelCall('m2', 'writer', 'stage:0', { content: 'Draft 2' }),
      ],
      { input: INPUT },
    );
    const step = g.when({ ids: 'r' }).then({
      kind: 'append',
      events: [
        reviewOpened(
          'r-1',
          { type: 'stage', index: 0 },
          'Review stage 1 (writer)',
          "Last revision: approve the writer's output, edit it, or reject it, before it goes to the next stage.",
          { stage: 0, agent: 'writer', output: 'Draft 2' },
          ['approve', 'edit', 'reject'],
        ),
      ],
    });
    const opened = step.kind === 'append' ? (step.events[0].data as { ask: string }) : undefined;
    assert.doesNotMatch(opened!.ask, /feedback/i);
  });

  it('a review escalated on expiry and answered there sends the stage back, like feedback', () => {
    const timed = WorkflowSchema.parse({
      ...wf,
      stages: [
        {
          agent: 'writer',
          review: { roles: ['approver'], timeout: { after: '1h', then: 'escalate', escalateTo: 'admin' } },
        },
        { agent: 'publisher' },
      ],
    });
    const review = reviewOpened('r1', { type: 'stage', index: 0 }, 'Review stage 1 (writer)', 'x', {
      stage: 0,
      agent: 'writer',
      output: 'Draft 1',
    });
    const escalation = reviewOpened(
      'e1',
      { type: 'stage', index: 0 },
      'Escalated: Review stage 1 (writer)',
      'y',
      { stage: 0, agent: 'writer', output: 'Draft 1' },
      ['approve', 'reject', 'answer', 'handback', 'close'],
    );
    given(
      timed,
      [
        modelCall('m1', 'writer', 'stage:0', { content: 'Draft 1' }),
        review,
        expired('r1', 'escalate', 'admin'),
        { ...escalation, data: { ...(escalation.data as object), kind: 'escalation' } },
        resolve('e1', 'answer', { id: 'root', role: 'admin' }, { comment: 'Cite a study.' }),
      ],
      { input: INPUT },
    )
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(timed, 'writer', 'c-1', 'stage:0', [
            { role: 'user', content: INPUT },
            { role: 'assistant', content: 'Draft 1' },
            { role: 'user', content: 'Feedback: Cite a study.' },
            { role: 'user', content: '[root] Cite a study.' },
          ]),
        ],
      });
  });

  it('a human message is seen by the stage', () => {
    run({
      type: 'human-message.posted',
      actor: { kind: 'human', id: 'dave' },
      data: { by: { id: 'dave', role: 'participant' }, text: 'Mention shade.' },
    })
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'writer', 'c-1', 'stage:0', [
            { role: 'user', content: INPUT },
            { role: 'user', content: '[dave] Mention shade.' },
          ]),
        ],
      });
  });
});

describe('concurrent decider (market analysis: three analysts, a lead, validation)', () => {
  const wf = loadWorkflow('market-analysis');
  const INPUT = 'Should we launch in Norway?';
  const run = (...facts: Array<NewEvent | NewEvent[]>) =>
    given(wf, facts, { input: INPUT, requestedBy: 'alice' });
  const workers = [
    modelCall('w1', 'market-analyst', 'worker:market-analyst', { content: 'Demand is high.' }),
    modelCall('w2', 'financial-analyst', 'worker:financial-analyst', { content: 'Costs are low.' }),
    modelCall('w3', 'competition-analyst', 'worker:competition-analyst', { content: 'Few rivals.' }),
  ];
  const reports =
    '[market-analyst] Demand is high.\n\n[financial-analyst] Costs are low.\n\n[competition-analyst] Few rivals.';
  const aggregateRequest = `Request: ${INPUT}\n\nResults:\n${reports}`;
  const validation = (requestId: string, output: string, decisions?: string[]) =>
    reviewOpened(
      requestId,
      { type: 'result' },
      'Validate the aggregated results',
      "Check the lead-analyst's combined analysis of 3 results before it becomes the report.",
      { output, results: reports },
      decisions,
    );

  it('every worker is called at once, in ONE call-models step', () => {
    run()
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'market-analyst', 'c-1', 'worker:market-analyst', [{ role: 'user', content: INPUT }]),
          callPlan(wf, 'financial-analyst', 'c-2', 'worker:financial-analyst', [
            { role: 'user', content: INPUT },
          ]),
          callPlan(wf, 'competition-analyst', 'c-3', 'worker:competition-analyst', [
            { role: 'user', content: INPUT },
          ]),
        ],
      });
  });

  it('only the workers without a result are called again (after a crash)', () => {
    run(workers[0], modelStarted('w2', 'financial-analyst', 'worker:financial-analyst'))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'financial-analyst', 'c-1', 'worker:financial-analyst', [
            { role: 'user', content: INPUT },
          ]),
          callPlan(wf, 'competition-analyst', 'c-2', 'worker:competition-analyst', [
            { role: 'user', content: INPUT },
          ]),
        ],
      });
  });

  it('a failed worker fails the run', () => {
    run(workers[0], modelFailed('w2', 'financial-analyst', 'worker:financial-analyst'))
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.failed',
            actor: SYSTEM,
            data: {
              code: 'MODEL_CALL_FAILED',
              message: 'the model call of financial-analyst (worker:financial-analyst) failed',
            },
          },
        ],
      });
  });

  it('the aggregator gets every result as `[name] output`', () => {
    run(...workers)
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'lead-analyst', 'c-1', 'aggregate', [{ role: 'user', content: aggregateRequest }]),
        ],
      });
  });

  it('the aggregate is validated by a human', () => {
    run(...workers, modelCall('a1', 'lead-analyst', 'aggregate', { content: 'Launch.' }))
      .when({ ids: 'r' })
      .then({ kind: 'append', events: [validation('r-1', 'Launch.')] });
  });

  it('approve finishes with the aggregate; edit with the edited output', () => {
    const g = run(
      ...workers,
      modelCall('a1', 'lead-analyst', 'aggregate', { content: 'Launch.' }),
      validation('r1', 'Launch.'),
    );
    g.and(resolve('r1', 'approve', approver))
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Launch.' } }],
      });
    g.and(resolve('r1', 'edit', approver, { payload: { output: 'Launch in Q3.' } }))
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Launch in Q3.' } }],
      });
  });

  it('feedback has the aggregator redo it', () => {
    run(
      ...workers,
      modelCall('a1', 'lead-analyst', 'aggregate', { content: 'Launch.' }),
      validation('r1', 'Launch.'),
      resolve('r1', 'feedback', approver, { comment: 'Add risks.' }),
    )
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'lead-analyst', 'c-1', 'aggregate', [
            { role: 'user', content: aggregateRequest },
            { role: 'assistant', content: 'Launch.' },
            { role: 'user', content: 'Feedback: Add risks.' },
          ]),
        ],
      });
  });

  it('reject cancels; an expiry with continue accepts the aggregate', () => {
    const g = run(
      ...workers,
      modelCall('a1', 'lead-analyst', 'aggregate', { content: 'Launch.' }),
      validation('r1', 'Launch.'),
    );
    g.and(resolve('r1', 'reject', approver, { comment: 'Wrong market' }))
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.cancelled',
            actor: SYSTEM,
            data: { reason: 'the aggregate was rejected: Wrong market' },
          },
        ],
      });
    g.and(expired('r1', 'continue'))
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Launch.' } }],
      });
  });

  it('without validation the aggregate is the output', () => {
    const { validation: _none, ...rest } = wf as Extract<typeof wf, { pattern: 'concurrent' }>;
    const open = WorkflowSchema.parse(rest);
    given(open, [...workers, modelCall('a1', 'lead-analyst', 'aggregate', { content: 'Launch.' })])
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Launch.' } }],
      });
  });
});
