import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { WorkflowSchema } from '@parley/contracts';
import { SYSTEM, agent, callPlan, expired, given, loadWorkflow, modelCall, resolve } from '@parley/testing';
import type { Step } from '../steps';
import { ledgerSchema, planSchema } from './magentic/magentic.decider';
import { CheckerVerdict } from './maker-checker/maker-checker.decider';
import { sha256 } from './shared';

const bob = { id: 'bob', role: 'approver' };

function requestOpened(
  requestId: string,
  kind: string,
  subject: unknown,
  title: string,
  ask: string,
  payload: unknown,
  decisions: string[],
  extra: Record<string, unknown> = {},
): NewEvent {
  return {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId,
      kind,
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
      ...extra,
    },
  };
}

describe('magentic decider (incident response)', () => {
  const wf = loadWorkflow('incident-response');
  const INPUT = 'Checkout fails for 30% of users since 14:00.';
  const SPECIALISTS = ['investigator', 'communicator', 'remediator'];
  const MANAGER = 'incident-commander';
  const planStructured = { name: 'magentic_plan', schema: planSchema(SPECIALISTS) };
  const ledgerStructured = { name: 'progress_ledger', schema: ledgerSchema(SPECIALISTS) };
  const plan = {
    facts: 'Checkout errors since 14:00',
    steps: [
      { agent: 'investigator', task: 'Find the cause' },
      { agent: 'communicator', task: 'Tell customers' },
    ],
  };
  const planText = 'Plan:\n1. investigator: Find the cause\n2. communicator: Tell customers';
  const ledger = (over: Record<string, unknown> = {}) => ({
    is_request_satisfied: false,
    is_progress_being_made: true,
    is_in_loop: false,
    next_speaker: 'investigator',
    instruction: 'Check the payment logs',
    reason: 'the cause is unknown',
    ...over,
  });
  const planRequest = (requestId: string, revision = 0, p = plan) =>
    requestOpened(
      requestId,
      'plan',
      { type: 'plan', revision },
      `Approve plan (revision ${revision})`,
      'The incident-commander proposes this plan. Approve it, edit it, or return it with notes.',
      p,
      ['approve', 'edit', 'feedback', 'reject'],
    );
  const planRecorded = (revision: number, p = plan): NewEvent => ({
    type: 'plan.recorded',
    actor: agent(MANAGER),
    data: { revision, ...p, source: 'manager' },
  });
  const approvedPlan = [
    modelCall('p1', MANAGER, 'plan', { content: '{}', structured: plan }),
    planRecorded(0),
    planRequest('pr'),
    resolve('pr', 'approve', bob),
  ];
  const run = (...facts: Array<NewEvent | NewEvent[]>) =>
    given(wf, facts, { input: INPUT, requestedBy: 'alice' });

  it('the whole loop: plan → plan.recorded → plan request → approve → ledger → delegate → satisfied → final → findings review → done', () => {
    let g = run();
    let step: Step = g.when({ ids: 'a' }).then({
      kind: 'call-models',
      calls: [
        callPlan(wf, MANAGER, 'a-1', 'plan', [{ role: 'user', content: INPUT }], {
          structured: planStructured,
        }),
      ],
    });
    g = g.andAnswers(step, { content: '{}', structured: plan });

    step = g.when().then({ kind: 'append', events: [planRecorded(0)] });
    g = g.andStep(step);

    step = g.when({ ids: 'b' }).then({ kind: 'append', events: [planRequest('b-1')] });
    g = g.andStep(step);
    g.when().then({ kind: 'wait' });
    g = g.and(resolve('b-1', 'approve', bob));

    const ledgerCall = (id: string, reports: string[]) =>
      callPlan(
        wf,
        MANAGER,
        id,
        'ledger',
        [
          { role: 'user', content: INPUT },
          { role: 'user', content: planText },
          ...reports.map((content) => ({ role: 'user' as const, content })),
        ],
        {
          structured: ledgerStructured,
        },
      );
    step = g.when({ ids: 'c' }).then({ kind: 'call-models', calls: [ledgerCall('c-1', [])] });
    g = g.andAnswers(step, { content: '{}', structured: ledger() });

    step = g
      .when()
      .then({ kind: 'append', events: [{ type: 'ledger.updated', actor: agent(MANAGER), data: ledger() }] });
    g = g.andStep(step);

    step = g.when({ ids: 'd' }).then({
      kind: 'call-models',
      calls: [
        callPlan(wf, 'investigator', 'd-1', 'task', [{ role: 'user', content: 'Check the payment logs' }]),
      ],
    });
    g = g.andAnswers(step, 'A bad deploy of the payment service.');

    step = g.when({ ids: 'e' }).then({
      kind: 'call-models',
      calls: [ledgerCall('e-1', ['[investigator] A bad deploy of the payment service.'])],
    });
    g = g.andAnswers(step, { content: '{}', structured: ledger({ is_request_satisfied: true }) });
    g = g.andStep(g.when().result);

    step = g.when({ ids: 'f' }).then({
      kind: 'call-models',
      calls: [
        callPlan(wf, MANAGER, 'f-1', 'final', [
          { role: 'user', content: INPUT },
          { role: 'user', content: '[investigator] A bad deploy of the payment service.' },
          { role: 'user', content: 'Write the final answer from the reports.' },
        ]),
      ],
    });
    g = g.andAnswers(step, 'Rolled back the deploy.');

    const findings = {
      output: 'Rolled back the deploy.',
      reports: ['[investigator] A bad deploy of the payment service.'],
    };
    step = g.when({ ids: 'g' }).then({
      kind: 'append',
      events: [
        requestOpened(
          'g-1',
          'review',
          { type: 'findings' },
          'Review the findings',
          "Review the incident-commander's findings before they are final.",
          findings,
          ['approve', 'edit', 'reject'],
        ),
      ],
    });
    g = g.andStep(step);
    g.and(resolve('g-1', 'approve', bob))
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Rolled back the deploy.' } }],
      });
    g.and(resolve('g-1', 'edit', bob, { payload: { output: 'Rolled back deploy 42.' } }))
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Rolled back deploy 42.' } }],
      });
    g.and(resolve('g-1', 'reject', bob, { comment: 'Not the root cause' }))
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.cancelled',
            actor: SYSTEM,
            data: { reason: 'the findings were rejected: Not the root cause' },
          },
        ],
      });
  });

  it('plan feedback → the manager re-plans with the notes', () => {
    run(
      modelCall('p1', MANAGER, 'plan', { content: '{}', structured: plan }),
      planRecorded(0),
      planRequest('pr'),
      resolve('pr', 'feedback', bob, { comment: 'Roll back first.' }),
    )
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(
            wf,
            MANAGER,
            'c-1',
            'plan',
            [
              { role: 'user', content: INPUT },
              { role: 'user', content: 'Notes on the previous plan: Roll back first.' },
            ],
            { structured: planStructured },
          ),
        ],
      });
  });

  it('an edited plan is recorded as the human’s revision, and needs no approval', () => {
    const edited = { facts: 'Checkout errors', steps: [{ agent: 'remediator', task: 'Roll back' }] };
    const g = run(
      modelCall('p1', MANAGER, 'plan', { content: '{}', structured: plan }),
      planRecorded(0),
      planRequest('pr'),
      resolve('pr', 'edit', bob, { payload: edited }),
    );
    const humanPlan: NewEvent = {
      type: 'plan.recorded',
      actor: { kind: 'human', id: 'bob' } /* the editor */,
      data: { revision: 1, ...edited, source: 'human' },
    };
    g.when().then({ kind: 'append', events: [humanPlan] });
    g.and(humanPlan)
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(
            wf,
            MANAGER,
            'c-1',
            'ledger',
            [
              { role: 'user', content: INPUT },
              { role: 'user', content: 'Plan:\n1. remediator: Roll back' },
            ],
            { structured: ledgerStructured },
          ),
        ],
      });
  });

  it('a rejected plan cancels the run', () => {
    run(
      modelCall('p1', MANAGER, 'plan', { content: '{}', structured: plan }),
      planRecorded(0),
      planRequest('pr'),
      resolve('pr', 'reject', bob, { comment: 'No.' }),
    )
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.cancelled', actor: SYSTEM, data: { reason: 'the plan was rejected: No.' } }],
      });
  });

  it('after maxStalls ledgers without progress, the manager re-plans', () => {
    const stalled = ledger({ is_progress_being_made: false });
    const stall = (id: string) => [
      modelCall(id, MANAGER, 'ledger', { content: '{}', structured: stalled }),
      { type: 'ledger.updated', actor: agent(MANAGER), data: stalled } as NewEvent,
    ];
    run(...approvedPlan, ...stall('l1'))
      .when({ ids: 'c' })
      .thenMatch((step) =>
        assert.deepStrictEqual(step.kind === 'call-models' && step.calls.map((c) => c.purpose), ['ledger']),
      );
    run(...approvedPlan, ...stall('l1'), ...stall('l2'))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, MANAGER, 'c-1', 'plan', [{ role: 'user', content: INPUT }], {
            structured: planStructured,
          }),
        ],
      });
  });
});

describe('maker-checker decider', () => {
  const INPUT = 'We open a new office in Lisbon.';

  describe('with an agent checker (press-release-auto)', () => {
    const wf = loadWorkflow('press-release-auto');
    const run = (...facts: Array<NewEvent | NewEvent[]>) => given(wf, facts, { input: INPUT });
    const checkStructured = { name: 'checker_verdict', schema: CheckerVerdict };
    const revise = (id: string, feedback: string) =>
      modelCall(id, 'compliance', 'check', { content: '{}', structured: { verdict: 'revise', feedback } });

    it('the maker drafts, the checker checks the draft (structured verdict)', () => {
      run()
        .when({ ids: 'c' })
        .then({
          kind: 'call-models',
          calls: [callPlan(wf, 'copywriter', 'c-1', 'draft', [{ role: 'user', content: INPUT }])],
        });
      run(modelCall('d1', 'copywriter', 'draft', { content: 'D1' }))
        .when({ ids: 'c' })
        .then({
          kind: 'call-models',
          calls: [
            callPlan(
              wf,
              'compliance',
              'c-1',
              'check',
              [{ role: 'user', content: `Request: ${INPUT}\n\nDraft (round 1 of 3):\nD1` }],
              { structured: checkStructured },
            ),
          ],
        });
    });

    it('revise → another draft with the feedback; the next check sees the feedback so far', () => {
      const g = run(
        modelCall('d1', 'copywriter', 'draft', { content: 'D1' }),
        revise('k1', 'No superlatives.'),
      );
      g.when({ ids: 'c' }).then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'copywriter', 'c-1', 'draft', [
            { role: 'user', content: INPUT },
            { role: 'assistant', content: 'D1' },
            { role: 'user', content: 'Feedback: No superlatives.' },
          ]),
        ],
      });
      g.and(modelCall('d2', 'copywriter', 'draft', { content: 'D2' }))
        .when({ ids: 'c' })
        .then({
          kind: 'call-models',
          calls: [
            callPlan(
              wf,
              'compliance',
              'c-1',
              'check',
              [
                { role: 'user', content: `Request: ${INPUT}\n\nDraft (round 2 of 3):\nD2` },
                { role: 'user', content: 'Feedback: No superlatives.' },
              ],
              {
                structured: checkStructured,
              },
            ),
          ],
        });
    });

    it('approve → the run completes with the latest draft', () => {
      run(
        modelCall('d1', 'copywriter', 'draft', { content: 'D1' }),
        revise('k1', 'x'),
        modelCall('d2', 'copywriter', 'draft', { content: 'D2' }),
        modelCall('k2', 'compliance', 'check', {
          content: '{}',
          structured: { verdict: 'approve', feedback: '' },
        }),
      )
        .when()
        .then({ kind: 'append', events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'D2' } }] });
    });

    it('maxRounds drafts without approval → the last draft, marked as not approved', () => {
      run(
        modelCall('d1', 'copywriter', 'draft', { content: 'D1' }),
        revise('k1', 'a'),
        modelCall('d2', 'copywriter', 'draft', { content: 'D2' }),
        revise('k2', 'b'),
        modelCall('d3', 'copywriter', 'draft', { content: 'D3' }),
        revise('k3', 'c'),
      )
        .when()
        .then({
          kind: 'append',
          events: [
            {
              type: 'run.completed',
              actor: SYSTEM,
              data: { output: 'D3\n\n(Not approved after 3 rounds.)' },
            },
          ],
        });
    });
  });

  describe('with a human checker (press-release)', () => {
    const wf = loadWorkflow('press-release');
    const run = (...facts: Array<NewEvent | NewEvent[]>) =>
      given(wf, facts, { input: INPUT, requestedBy: 'alice' });
    const check = (requestId: string, round: number, draft: string) =>
      requestOpened(
        requestId,
        'review',
        { type: 'draft', round },
        `Check draft ${round} of 3`,
        round < 3
          ? "Approve the copywriter's draft, edit it, or send feedback for another round."
          : "Last round: approve or reject the copywriter's draft.",
        { round, draft },
        round < 3 ? ['approve', 'feedback', 'edit', 'reject'] : ['approve', 'edit', 'reject'],
      );

    it('a draft is checked by a human; feedback → another round', () => {
      run(modelCall('d1', 'copywriter', 'draft', { content: 'D1' }))
        .when({ ids: 'r' })
        .then({ kind: 'append', events: [check('r-1', 1, 'D1')] });
      run(
        modelCall('d1', 'copywriter', 'draft', { content: 'D1' }),
        check('r1', 1, 'D1'),
        resolve('r1', 'feedback', bob, { comment: 'Add a quote.' }),
      )
        .when({ ids: 'c' })
        .then({
          kind: 'call-models',
          calls: [
            callPlan(wf, 'copywriter', 'c-1', 'draft', [
              { role: 'user', content: INPUT },
              { role: 'assistant', content: 'D1' },
              { role: 'user', content: 'Feedback: Add a quote.' },
            ]),
          ],
        });
    });

    it('the last round offers no feedback', () => {
      run(
        modelCall('d1', 'copywriter', 'draft', { content: 'D1' }),
        check('r1', 1, 'D1'),
        resolve('r1', 'feedback', bob, { comment: 'a' }),
        modelCall('d2', 'copywriter', 'draft', { content: 'D2' }),
        check('r2', 2, 'D2'),
        resolve('r2', 'feedback', bob, { comment: 'b' }),
        modelCall('d3', 'copywriter', 'draft', { content: 'D3' }),
      )
        .when({ ids: 'r' })
        .thenMatch((step) => {
          assert.deepStrictEqual(step, { kind: 'append', events: [check('r-1', 3, 'D3')] });
          const opened =
            step.kind === 'append'
              ? (step.events[0].data as { ask: string; decisions: string[] })
              : undefined;
          assert.ok(!opened!.decisions.includes('feedback'));
          assert.doesNotMatch(opened!.ask, /feedback/i);
        });
    });

    it('approve / edit / reject', () => {
      const g = run(modelCall('d1', 'copywriter', 'draft', { content: 'D1' }), check('r1', 1, 'D1'));
      g.and(resolve('r1', 'approve', bob))
        .when()
        .then({ kind: 'append', events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'D1' } }] });
      g.and(resolve('r1', 'edit', bob, { payload: { round: 1, draft: 'D1 (edited)' } }))
        .when()
        .then({
          kind: 'append',
          events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'D1 (edited)' } }],
        });
      g.and(resolve('r1', 'reject', bob, { comment: 'No.' }))
        .when()
        .then({
          kind: 'append',
          events: [{ type: 'run.cancelled', actor: SYSTEM, data: { reason: 'the draft was rejected: No.' } }],
        });
    });

    it('a check that expires with `escalate` opens an escalation to `escalateTo`; its decision counts', () => {
      const timed = WorkflowSchema.parse({
        ...wf,
        checker: {
          human: { roles: ['approver'], timeout: { after: '30m', then: 'escalate', escalateTo: 'editor' } },
        },
      });
      const timedCheck = requestOpened(
        'r1',
        'review',
        { type: 'draft', round: 1 },
        'Check draft 1 of 3',
        "Approve the copywriter's draft, edit it, or send feedback for another round.",
        { round: 1, draft: 'D1' },
        ['approve', 'feedback', 'edit', 'reject'],
        {
          deadline: '2026-01-01T00:30:00.000Z',
          onTimeout: { action: 'escalate', escalateTo: 'editor' },
        },
      );
      const g = given(timed, [modelCall('d1', 'copywriter', 'draft', { content: 'D1' })], {
        input: INPUT,
        requestedBy: 'alice',
      });
      g.when({ ids: 'r' }).then({
        kind: 'append',
        events: [{ ...timedCheck, data: { ...(timedCheck.data as object), requestId: 'r-1' } }],
      });
      const escalation = requestOpened(
        'e-1',
        'escalation',
        { type: 'draft', round: 1 },
        'Escalated: Check draft 1 of 3',
        "Nobody answered in time. Approve the copywriter's draft, edit it, or send feedback for another round.",
        { round: 1, draft: 'D1' },
        ['approve', 'reject', 'answer', 'handback', 'close'],
        {
          roles: ['editor'],
          escalation: {
            reason: 'The review request expired without a decision',
            context: 'Check draft 1 of 3',
            suggested_action: 'Decide the request in place of the original approvers.',
            source: 'policy',
          },
        },
      );
      const afterExpiry = g.and(timedCheck, expired('r1', 'escalate', 'editor'));
      afterExpiry
        .when({ ids: 'e', now: new Date('2026-01-01T00:31:00.000Z') })
        .then({ kind: 'append', events: [escalation] });
      afterExpiry.and(escalation).when().then({ kind: 'wait' });
      afterExpiry
        .and(escalation, resolve('e-1', 'approve', { id: 'erin', role: 'editor' }))
        .when()
        .then({ kind: 'append', events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'D1' } }] });
      afterExpiry
        .and(escalation, resolve('e-1', 'answer', { id: 'erin', role: 'editor' }, { comment: 'Shorter.' }))
        .when({ ids: 'c' })
        .then({
          kind: 'call-models',
          calls: [
            callPlan(timed, 'copywriter', 'c-1', 'draft', [
              { role: 'user', content: INPUT },
              { role: 'assistant', content: 'D1' },
              { role: 'user', content: 'Feedback: Shorter.' },
            ]),
          ],
        });
    });
  });
});
