import assert from 'node:assert/strict';
import { after as afterAll, before, describe, it } from 'node:test';
import { ParleyProcess } from '@parley/testing';
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

const INCIDENT = 'The checkout API returns 500 errors since the last deploy';
const SPECIALISTS = ['investigator', 'communicator', 'remediator'];

/** Magentic pattern (`incident-response`): plan approval, ledger loop, findings review. */
describe('incident-response (magentic) over REST with the offline model', () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('a human edits the plan; the manager runs the ledger loop over the specialists; findings approved', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'incident-response', INCIDENT);
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'plan', 'the plan approval');
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(log), [
      'run.started',
      'model-call.started',
      'model-call.completed',
      'plan.recorded',
      'human-request.opened',
    ]);
    assert.deepEqual([log[1].data.agent, log[1].data.purpose], ['incident-commander', 'plan']);
    const plan0 = log[3].data;
    assert.equal(plan0.revision, 0);
    assert.equal(plan0.source, 'manager');
    assert.deepEqual(log[3].actor, { kind: 'agent', id: 'incident-commander' });
    assert.deepEqual(
      plan0.steps.map((s: { agent: string }) => s.agent),
      SPECIALISTS,
    );
    assert.deepEqual(request.subject, { type: 'plan', revision: 0 });
    assert.deepEqual(request.decisions, ['approve', 'edit', 'feedback', 'reject']);
    assert.deepEqual(request.payload, { facts: plan0.facts, steps: plan0.steps });

    // An edited plan must be a plan of this workflow's specialists.
    const invalid = [
      { facts: 'x', steps: [{ agent: 'janitor', task: 'Mop the floor' }] },
      { facts: 'x', steps: [] },
      { steps: [{ agent: 'investigator', task: 'Look' }] },
      { facts: 'x', steps: [{ agent: 'investigator', task: 'Look' }], extra: true },
    ];
    for (const payload of invalid) {
      assertError(
        await alice.post(`/api/requests/${request.id}/decision`, { decision: 'edit', payload }),
        400,
        'REQUEST.INVALID_PAYLOAD',
      );
    }
    assert.equal((await events(alice, runId)).length, 5, 'refused edits append nothing');

    const edited = {
      facts: 'Errors started right after deploy 4121; the payment client was upgraded.',
      steps: [
        { agent: 'investigator', task: 'Diff deploy 4121 against 4120 and find the failing call' },
        { agent: 'remediator', task: 'Roll back the payment client and verify checkout' },
      ],
    };
    await decide(alice, request.id, { decision: 'edit', payload: edited, comment: 'Roll back first' });
    const findings = await waitForRequest(
      alice,
      runId,
      (r) => r.subject.type === 'findings',
      'the findings review',
    );
    log = await events(alice, runId);
    const plans = log.filter((e) => e.type === 'plan.recorded');
    assert.equal(plans.length, 2);
    assert.deepEqual(plans[1].data, { revision: 1, ...edited, source: 'human' });
    assert.deepEqual(
      plans[1].actor,
      { kind: 'human', id: 'alice' },
      'the edited revision is attributed to the human who edited it',
    );
    assert.equal(
      typesOf(log).filter((t) => t === 'human-request.opened').length,
      2,
      'a human-edited plan is not sent for approval again',
    );

    const ledgerRound = ['model-call.started', 'model-call.completed', 'ledger.updated'];
    const task = ['model-call.started', 'model-call.completed'];
    assert.deepEqual(typesOf(after(log, 5)), [
      'human-decision.recorded',
      'human-request.resolved',
      'plan.recorded',
      ...ledgerRound,
      ...task,
      ...ledgerRound,
      ...task,
      ...ledgerRound,
      ...task,
      ...ledgerRound,
      'model-call.started',
      'model-call.completed',
      'human-request.opened',
    ]);
    const ledgers = log.filter((e) => e.type === 'ledger.updated');
    assert.deepEqual(
      ledgers.map((l) => l.data.is_request_satisfied),
      [false, false, false, true],
    );
    assert.deepEqual(
      ledgers.slice(0, 3).map((l) => l.data.next_speaker),
      SPECIALISTS,
    );
    for (const l of ledgers) assert.deepEqual(l.actor, { kind: 'agent', id: 'incident-commander' });
    const tasks = modelCalls(log, 'task');
    assert.deepEqual(
      tasks.map((t) => t.data.agent),
      SPECIALISTS,
      'each specialist got the task the ledger named',
    );
    tasks.forEach((t, i) =>
      assert.ok(
        t.data.content.includes(
          `You wrote: "${ledgers[i].data.instruction.split(' ').slice(0, 12).join(' ')}`,
        ),
        t.data.content,
      ),
    );
    const final = modelCalls(log, 'final');
    assert.equal(final.length, 1);
    assert.equal(final[0].data.agent, 'incident-commander');
    assert.equal(findings.request.kind, 'review');
    assert.deepEqual(
      findings.request.decisions,
      ['approve', 'edit', 'reject'],
      'findings: no feedback round',
    );
    assert.equal(findings.request.payload.output, final[0].data.content);
    assert.equal(findings.request.payload.reports.length, 3);

    await decide(server.client('bob'), findings.request.id, { decision: 'approve' });
    const done = await waitForStatus(alice, runId, 'completed');
    log = await events(alice, runId);
    assert.deepEqual(typesOf(log).slice(-3), [
      'human-decision.recorded',
      'human-request.resolved',
      'run.completed',
    ]);
    assert.equal(done.output, final[0].data.content);
  });

  it('feedback on the plan has the manager re-plan: a new revision to approve', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'incident-response', INCIDENT);
    const first = await waitForRequest(alice, runId, (r) => r.kind === 'plan');
    const notes = 'Involve the communicator before anything else';
    await decide(alice, first.request.id, { decision: 'feedback', comment: notes });
    const second = await waitForRequest(
      alice,
      runId,
      (r) => r.kind === 'plan' && r.id !== first.request.id,
      'the re-plan approval',
    );
    let log = await events(alice, runId);
    assert.deepEqual(typesOf(after(log, 5)), [
      'human-decision.recorded',
      'human-request.resolved',
      'model-call.started',
      'model-call.completed',
      'plan.recorded',
      'human-request.opened',
    ]);
    const planCalls = modelCalls(log, 'plan');
    assert.equal(planCalls.length, 2);
    const plans = log.filter((e) => e.type === 'plan.recorded');
    assert.deepEqual(
      plans.map((p) => [p.data.revision, p.data.source]),
      [
        [0, 'manager'],
        [1, 'manager'],
      ],
    );
    assert.deepEqual(second.request.subject, { type: 'plan', revision: 1 });
    assert.deepEqual(second.request.payload, { facts: plans[1].data.facts, steps: plans[1].data.steps });
    const view = await alice.get(`/api/runs/${runId}`);
    assert.equal(view.body.plan.revision, 1);

    // Approving the new revision starts the loop; the run ends with the findings approved.
    await decide(alice, second.request.id, { decision: 'approve' });
    const findings = await waitForRequest(alice, runId, (r) => r.subject.type === 'findings');
    await decide(alice, findings.request.id, {
      decision: 'edit',
      payload: { output: 'Root cause: bad payment client. Rolled back.' },
    });
    const done = await waitForStatus(alice, runId, 'completed');
    assert.equal(done.output, 'Root cause: bad payment client. Rolled back.');
    log = await events(alice, runId);
    assert.equal(log.filter((e) => e.type === 'plan.recorded').length, 2, 'no further re-plan');
    assert.equal(modelCalls(log, 'task').length, 3);
  });

  it('rejecting the plan cancels the run', async () => {
    const alice = server.client('alice');
    const runId = await startRun(alice, 'incident-response', INCIDENT);
    const { request } = await waitForRequest(alice, runId, (r) => r.kind === 'plan');
    await decide(alice, request.id, { decision: 'reject', comment: 'False alarm' });
    const view = await waitForStatus(alice, runId, 'cancelled');
    assert.match(view.failure!.message, /the plan was rejected: False alarm/);
    assert.equal(modelCalls(await events(alice, runId), 'task').length, 0);
  });
});
