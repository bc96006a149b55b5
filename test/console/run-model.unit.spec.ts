import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '@parley/testing';
import { runModel } from '../../apps/console/src/run/run-model';
import type { RunEventLike } from '../../apps/console/src/run/run-events';

/**
 * The run page's view model (apps/console/src/run/), on the event logs of real runs with the offline
 * model (test/console/fixtures/, written by fixtures/capture.ts), and on prefixes of them: the page
 * sees a run grow one event at a time.
 */
const fixture = (name: string): RunEventLike[] =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'console', 'fixtures', `${name}.events.json`), 'utf8'));
const alice = { id: 'alice', roles: ['approver'] };
const carol = { id: 'carol', roles: ['participant'] };
const victor = { id: 'victor', roles: ['viewer'] };
const upTo = (list: RunEventLike[], type: string, nth = 1): RunEventLike[] => {
  let seen = 0;
  const i = list.findIndex((e) => e.type === type && ++seen === nth);
  assert.ok(i >= 0, `no ${type} #${nth}`);
  return list.slice(0, i + 1);
};
const nowOf = (list: RunEventLike[]): number => Date.parse(list[list.length - 1].at) + 1000;

describe('console run page: the view model', () => {
  it('magentic: the graph (plan approval, manager, specialists, findings), lit while the manager plans and while the plan waits', () => {
    const events = fixture('magentic');
    const planning = upTo(events, 'model-call.started');
    const m = runModel(planning, { me: alice, now: nowOf(planning) });
    assert.equal(m.graph?.pattern, 'magentic');
    assert.deepEqual(
      m.graph!.nodes.map((n) => [n.id, n.part, n.column]),
      [
        ['human:plan', 'plan approval', 0],
        ['agent:incident-commander', 'manager', 1],
        ['agent:investigator', 'specialist', 2],
        ['agent:communicator', 'specialist', 2],
        ['agent:remediator', 'specialist', 2],
        ['human:findings', 'findings review', 3],
      ],
    );
    assert.deepEqual(m.graph!.current, ['agent:incident-commander']);

    const waiting = upTo(events, 'human-request.opened');
    const w = runModel(waiting, { me: alice, now: nowOf(waiting) });
    assert.deepEqual(w.graph!.current, ['human:plan']);
    assert.equal(w.graph!.nodes.find((n) => n.id === 'agent:incident-commander')!.state, 'done');

    const investigating = upTo(events, 'model-call.started', 4);
    assert.deepEqual(runModel(investigating, { me: alice, now: 0 }).graph!.current, ['agent:investigator']);

    const done = runModel(events, { me: alice, now: Date.now() });
    assert.deepEqual(done.graph!.current, [], 'nothing is lit once the run ended');
    assert.ok(done.graph!.nodes.every((n) => n.state === 'done'));
  });

  it('magentic: the plan with its revisions (feedback, then approval) and the progress ledger', () => {
    const plan = runModel(fixture('magentic'), { me: alice, now: 0 }).plan!;
    assert.deepEqual(
      plan.revisions.map((r) => [r.revision, r.source, r.review?.outcome, r.review?.by, r.review?.comment]),
      [
        [0, 'manager', 'feedback', ['alice (approver)'], 'Talk to customers first.'],
        [1, 'manager', 'approve', ['alice (approver)'], undefined],
      ],
    );
    assert.equal(plan.current, 1);
    assert.ok(plan.revisions[1].steps.length > 0);
    assert.deepEqual(
      plan.ledger.map((l) => [l.nextSpeaker, l.satisfied]),
      [
        ['investigator', false],
        ['communicator', false],
        ['remediator', false],
        ['remediator', true],
      ],
    );
    assert.equal(plan.stalls, 0);
    assert.equal(runModel(fixture('concurrent'), { me: alice, now: 0 }).plan, null);
  });

  it('concurrent: workers side by side into the aggregator and its validation; all three lit at once', () => {
    const events = fixture('concurrent');
    const fanOut = upTo(events, 'model-call.started', 3);
    const m = runModel(fanOut, { me: alice, now: nowOf(fanOut) });
    assert.deepEqual(m.graph!.current, [
      'agent:market-analyst',
      'agent:financial-analyst',
      'agent:competition-analyst',
    ]);
    assert.deepEqual(
      m.graph!.edges.map((e) => `${e.from}>${e.to}`),
      [
        'agent:market-analyst>agent:lead-analyst',
        'agent:financial-analyst>agent:lead-analyst',
        'agent:competition-analyst>agent:lead-analyst',
        'agent:lead-analyst>human:result',
      ],
    );
    assert.deepEqual(
      m.graph!.nodes.filter((n) => n.part === 'worker').map((n) => [n.column, n.row]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
      ],
    );
    // the open bars run to "now"
    const open = m.timeline.bars.filter((b) => b.open);
    assert.equal(open.length, 3);
    assert.ok(open.every((b) => b.end === m.timeline.durationMs));
  });

  it('the timeline: a bar per model call, tool call and human wait, on lanes, from the event times', () => {
    const events = fixture('concurrent');
    const t = runModel(events, { me: alice, now: Date.now() }).timeline;
    const t0 = Date.parse(events[0].at);
    assert.equal(t.durationMs, Date.parse(events[events.length - 1].at) - t0);
    assert.deepEqual(
      t.lanes.map((l) => [l.name, l.kind]),
      [
        ['market-analyst', 'model'],
        ['financial-analyst', 'model'],
        ['competition-analyst', 'model'],
        ['lead-analyst', 'model'],
        ['humans: approver', 'human'],
      ],
    );
    const review = t.bars.find((b) => b.kind === 'human')!;
    const opened = events.find((e) => e.type === 'human-request.opened')!;
    const resolved = events.find((e) => e.type === 'human-request.resolved')!;
    assert.equal(review.start, Date.parse(opened.at) - t0);
    assert.equal(review.end, Date.parse(resolved.at) - t0);
    assert.match(review.detail, /waited on approver, answered by alice \(approver\) → approve/);
    assert.ok(t.bars.every((b) => !b.open && b.end >= b.start));
    assert.equal(t.waitedOn[0].lane, 'humans: approver');
    assert.equal(t.totals.human, review.end - review.start);

    const refund = runModel(fixture('refund'), { me: alice, now: Date.now() }).timeline;
    assert.deepEqual(
      refund.bars.map((b) => [b.kind, b.lane, b.label]),
      [
        ['model', 'refund-agent', 'reply'],
        ['human', 'humans: approver', 'Approve process_refund'],
        ['tool', 'tool process_refund', 'process_refund'],
        ['model', 'refund-agent', 'reply'],
      ],
    );
    const tool = refund.bars.find((b) => b.kind === 'tool')!;
    const human = refund.bars.find((b) => b.kind === 'human')!;
    assert.ok(tool.start >= human.end, 'the tool runs after its approval, not during it');
  });

  it("a tool-call card: arguments, result, who approved, on which payload hash (the call's own)", () => {
    const events = fixture('refund');
    const [card] = runModel(events, { me: carol, now: 0 }).toolCalls;
    const requested = events.find((e) => e.type === 'tool-call.requested')!.data as { argsHash: string };
    assert.equal(card.tool, 'process_refund');
    assert.deepEqual(card.args, {
      order_id: 'A201',
      amount: 120,
      reason: 'Please refund $120 for order #A201, it arrived broken',
    });
    assert.equal(card.status, 'completed');
    assert.equal((card.result as { status: string }).status, 'refunded');
    assert.equal(card.gates.length, 1);
    const [gate] = card.gates;
    assert.equal(gate.kind, 'approval');
    assert.equal(gate.outcome, 'approve');
    assert.equal(gate.payloadHash, requested.argsHash);
    assert.equal(gate.boundToCall, true);
    assert.deepEqual(
      gate.decisions.map((d) => [d.by.id, d.by.role, d.decision, d.payloadHash, d.onShownPayload]),
      [['alice', 'approver', 'approve', requested.argsHash, true]],
    );
    // before the decision: waiting, no result
    const [waiting] = runModel(upTo(events, 'human-request.opened'), { me: carol, now: 0 }).toolCalls;
    assert.equal(waiting.status, 'requested');
    assert.equal(waiting.gates[0].status, 'open');
    assert.equal(waiting.result, undefined);
  });

  it('handoff: the triage decision, the review and the human re-route; the route taken is drawn', () => {
    const events = fixture('handoff');
    const m = runModel(events, { me: alice, now: 0 });
    assert.equal(m.triage!.triage, 'triage');
    assert.deepEqual(
      m.triage!.steps.map((s) => [s.kind, s.from, s.to, s.by, s.outcome]),
      [
        ['handoff', 'triage', 'billing', 'triage', undefined],
        ['override', 'billing', 'technical', 'alice (approver)', undefined],
        ['review', undefined, 'technical', 'alice (approver)', 'edit'],
      ],
    );
    assert.equal(m.triage!.current, 'technical');
    assert.equal(m.triage!.overrides, 1);
    const taken = m.graph!.edges.filter((e) => e.taken).map((e) => `${e.from}>${e.to}`);
    assert.deepEqual(taken, [
      'agent:triage>human:route',
      'human:route>agent:billing',
      'human:route>agent:technical',
    ]);
    assert.equal(runModel(fixture('magentic'), { me: alice, now: 0 }).triage, null);
  });

  it("retry, cancel and fork follow the permissions: defaults, the requester, and the run's state", () => {
    const refund = fixture('refund'); // started by carol (participant)
    const running = upTo(refund, 'human-request.opened');
    const asCarol = runModel(running, { me: carol, now: 0 }).actions;
    assert.equal(asCarol.cancel.allowed, true, 'the requester may cancel');
    assert.equal(asCarol.fork.allowed, false, 'fork is for approvers by default');
    assert.equal(asCarol.fork.why, 'fork is for approver');
    assert.equal(asCarol.retry.allowed, false);
    assert.equal(asCarol.retry.why, 'only a failed run is retried');
    const asVictor = runModel(running, { me: victor, now: 0 }).actions;
    assert.deepEqual([asVictor.cancel.allowed, asVictor.fork.allowed], [false, false]);
    const ended = runModel(refund, { me: alice, now: 0 }).actions;
    assert.deepEqual([ended.cancel.allowed, ended.fork.allowed], [false, true]);
    assert.equal(ended.cancel.why, 'the run is completed');
    const failed = runModel(refund, { me: carol, now: 0, status: 'failed' }).actions;
    assert.equal(failed.retry.allowed, true, 'the requester may retry a failed run');
    // only a failed model call is retried (the server's RETRIABLE_FAILURES): not a limit or a decision
    const modelFailed = runModel(running, {
      me: carol,
      now: 0,
      status: 'failed',
      failureCode: 'MODEL_CALL_FAILED',
    }).actions;
    assert.equal(modelFailed.retry.allowed, true);
    const limit = runModel(running, {
      me: carol,
      now: 0,
      status: 'failed',
      failureCode: 'MAX_STEPS',
    }).actions;
    assert.equal(limit.retry.allowed, false);
    assert.equal(limit.retry.why, 'the run failed with MAX_STEPS: only a failed model call is retried');
    // the code from the log when the page has no server view: the last run.failed, unless retried since
    const logged = [
      ...running,
      {
        seq: 99,
        type: 'run.failed',
        at: running[0].at,
        actor: { kind: 'system', id: 'parley' },
        data: { code: 'MAX_HANDOFFS', message: 'x' },
      },
    ];
    assert.equal(runModel(logged, { me: carol, now: 0 }).actions.retry.allowed, false);
    assert.equal(
      runModel(logged, { me: victor, now: 0 }).actions.retry.why,
      'retry is for requester, approver',
      'a viewer is told the roles, not the state',
    );

    // the workflow's own permissions replace the defaults
    const strict = refund.map((e) =>
      e.type === 'run.started'
        ? {
            ...e,
            data: {
              ...(e.data as object),
              workflow: {
                ...(e.data as { workflow: object }).workflow,
                permissions: { cancel: ['admin'], fork: ['participant'] },
              },
            },
          }
        : e,
    );
    const custom = runModel(upTo(strict, 'human-request.opened'), { me: carol, now: 0 }).actions;
    assert.deepEqual([custom.cancel.allowed, custom.fork.allowed], [false, true]);
    assert.equal(custom.cancel.why, 'cancel is for admin');
  });

  it("re-routing a handoff follows the server rule: the open routing review's roles, else participants; not once ended", () => {
    const handoff = fixture('handoff');
    const reviewing = upTo(handoff, 'human-request.opened');
    assert.equal(
      runModel(reviewing, { me: alice, now: 0 }).reroute.allowed,
      true,
      "an approver, the review's role",
    );
    const carolWhileReview = runModel(reviewing, { me: carol, now: 0 }).reroute;
    assert.equal(carolWhileReview.allowed, false);
    assert.equal(carolWhileReview.why, 're-routing is for approver');
    const reviewed = upTo(handoff, 'human-request.resolved');
    assert.equal(
      runModel(reviewed, { me: carol, now: 0 }).reroute.allowed,
      true,
      'no open review: participants',
    );
    assert.equal(runModel(reviewed, { me: victor, now: 0 }).reroute.why, 're-routing is for participant');
    const ended = runModel(handoff, { me: alice, now: 0 }).reroute;
    assert.deepEqual([ended.allowed, ended.why], [false, 'the run is completed']);
    assert.equal(
      runModel(fixture('refund'), { me: alice, now: 0 }).reroute.why,
      'only a handoff run is re-routed',
    );
  });
});
