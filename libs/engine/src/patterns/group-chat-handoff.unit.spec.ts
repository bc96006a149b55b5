import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import { WorkflowSchema } from '@parley/contracts';
import {
  SYSTEM,
  actingAs,
  agent,
  callPlan,
  expired,
  given,
  loadWorkflow,
  messagePosted,
  modelCall,
  resolve,
} from '@parley/testing';
import { overrideHandoff, postMessage } from '../human-commands';
import type { ToolSpec } from '../steps';
import { nextSpeakerSchema } from './group-chat/group-chat.decider';
import { sha256 } from './shared';
import { escalateToolSpec } from './tool-loop';

describe('group-chat decider (debate: round-robin, a human seat after 3 turns)', () => {
  const wf = loadWorkflow('debate');
  const TOPIC = 'Remote work is here to stay';
  const run = (...facts: Array<NewEvent | NewEvent[]>) =>
    given(wf, facts, { input: TOPIC, requestedBy: 'alice' });
  const selected = (speaker: string, reason = 'round-robin'): NewEvent => ({
    type: 'speaker.selected',
    actor: SYSTEM,
    data: { speaker, reason },
  });
  const turn = (id: string, speaker: string, content: string) => [
    selected(speaker),
    ...modelCall(id, speaker, 'turn', { content }),
  ];
  const opening = [turn('t1', 'optimist', 'O1'), turn('t2', 'skeptic', 'S1'), turn('t3', 'moderator', 'M1')];
  const floor: NewEvent = {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId: 'f-1',
      kind: 'input',
      subject: { type: 'floor', turn: 3 },
      title: 'You have the floor',
      ask: 'The moderator gives the floor to a human participant: say what you think, or skip.',
      payload: { topic: TOPIC, transcript: '[optimist] O1\n[skeptic] S1\n[moderator] M1' },
      payloadHash: sha256({ topic: TOPIC, transcript: '[optimist] O1\n[skeptic] S1\n[moderator] M1' }),
      decisions: ['answer', 'skip'],
      roles: ['participant'],
      quorum: 1,
      fourEyes: false,
      requester: 'alice',
      deadline: '2026-01-01T00:02:00.000Z',
      onTimeout: { action: 'continue', escalateTo: undefined },
      escalation: undefined,
    },
  };

  it('round-robin: the first participant is selected, then speaks', () => {
    run()
      .when()
      .then({ kind: 'append', events: [selected('optimist')] });
    run(selected('optimist'))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [callPlan(wf, 'optimist', 'c-1', 'turn', [{ role: 'user', content: `Topic: ${TOPIC}` }])],
      });
  });

  it('the next speaker follows, and sees the others as `[name] text`', () => {
    run(turn('t1', 'optimist', 'O1'))
      .when()
      .then({ kind: 'append', events: [selected('skeptic')] });
    run(turn('t1', 'optimist', 'O1'), selected('skeptic'))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'skeptic', 'c-1', 'turn', [
            { role: 'user', content: `Topic: ${TOPIC}` },
            { role: 'user', content: '[optimist] O1' },
          ]),
        ],
      });
  });

  it('after `afterTurns` turns the floor is given to a human, with a deadline; the chat waits', () => {
    run(...opening)
      .when({ ids: 'f' })
      .then({ kind: 'append', events: [floor] });
    run(...opening, floor)
      .when()
      .then({ kind: 'wait' });
  });

  it('humans who spoke early do not end the debate before its seat: the floor opens, the termination word waits', () => {
    // Two early messages make the moderator's opening turn look like the end (the offline model
    // says TERMINATE after 4 turns): the seat is still owed, so the floor opens instead.
    const early = [
      messagePosted({ id: 'carol', role: 'participant' }, 'First!'),
      messagePosted({ id: 'maya', role: 'participant' }, 'Me too.'),
    ];
    const spokeEarly = [
      early[0],
      turn('t1', 'optimist', 'O1'),
      early[1],
      turn('t2', 'skeptic', 'S1'),
      turn('t3', 'moderator', 'That is all. TERMINATE'),
    ];
    run(...spokeEarly)
      .when({ ids: 'f' })
      .thenMatch((step) => {
        assert.equal(step.kind, 'append');
        if (step.kind !== 'append') return;
        assert.equal(step.events.length, 1);
        assert.equal(step.events[0].type, 'human-request.opened');
        assert.deepEqual((step.events[0].data as { subject: unknown }).subject, { type: 'floor', turn: 3 });
      });
    // After the floor, the debate goes on: a termination word said before it does not count ...
    const afterFloor = run(...spokeEarly, floor, expired('f-1', 'continue'));
    afterFloor.when().then({ kind: 'append', events: [selected('optimist')] });
    // ... one said after it does.
    afterFloor
      .and(turn('t4', 'optimist', 'O2 TERMINATE'))
      .when()
      .thenMatch((step) => {
        assert.equal(step.kind, 'append');
        if (step.kind === 'append') assert.equal(step.events[0].type, 'run.completed');
      });
  });

  it('when the floor expires (continue), the chat goes on without the human', () => {
    run(...opening, floor, expired('f-1', 'continue'))
      .when()
      .then({ kind: 'append', events: [selected('optimist')] });
  });

  it('when a human answers, the next speaker hears them under their own name', () => {
    const answered = run(...opening, floor).whenCommand((s) =>
      postMessage(s, actingAs('dave', 'participant'), 'Offices still matter.'),
    ).result;
    run(...opening, floor, answered, selected('optimist'))
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'optimist', 'c-1', 'turn', [
            { role: 'user', content: `Topic: ${TOPIC}` },
            { role: 'assistant', content: 'O1' },
            { role: 'user', content: '[skeptic] S1' },
            { role: 'user', content: '[moderator] M1' },
            { role: 'user', content: '[dave] Offices still matter.' },
          ]),
        ],
      });
  });

  it('the termination word ends the chat with a summary', () => {
    run(
      ...opening,
      floor,
      expired('f-1', 'continue'),
      turn('t4', 'optimist', 'O2'),
      turn('t5', 'skeptic', 'S2'),
      turn('t6', 'moderator', 'That is all. TERMINATE'),
    )
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.completed',
            actor: SYSTEM,
            data: {
              output:
                '[optimist] O1\n[skeptic] S1\n[moderator] M1\n[optimist] O2\n[skeptic] S2\n[moderator] That is all. TERMINATE',
            },
          },
        ],
      });
  });

  it('maxTurns ends the chat', () => {
    const short = WorkflowSchema.parse({ ...wf, maxTurns: 2, humanSeat: undefined });
    given(short, [turn('t1', 'optimist', 'O1'), turn('t2', 'skeptic', 'S1')], { input: TOPIC })
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: '[optimist] O1\n[skeptic] S1' } }],
      });
  });

  it('with a manager, the manager selects (structured) and may end the chat', () => {
    const managed = WorkflowSchema.parse({
      ...wf,
      selection: 'manager',
      manager: 'moderator',
      humanSeat: undefined,
    });
    const m = (...facts: Array<NewEvent | NewEvent[]>) => given(managed, facts, { input: TOPIC });
    m()
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [
          callPlan(managed, 'moderator', 'c-1', 'select', [{ role: 'user', content: `Topic: ${TOPIC}` }], {
            structured: {
              name: 'next_speaker',
              schema: nextSpeakerSchema(['optimist', 'skeptic', 'moderator']),
            },
          }),
        ],
      });
    const choice = modelCall('s1', 'moderator', 'select', {
      content: '{}',
      structured: { next: 'skeptic', terminate: false, reason: 'the other side first' },
    });
    m(choice)
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'speaker.selected',
            actor: agent('moderator'),
            data: { speaker: 'skeptic', reason: 'the other side first' },
          },
        ],
      });
    m(choice, {
      type: 'speaker.selected',
      actor: agent('moderator'),
      data: { speaker: 'skeptic', reason: 'x' },
    })
      .when({ ids: 'c' })
      .then({
        kind: 'call-models',
        calls: [callPlan(managed, 'skeptic', 'c-1', 'turn', [{ role: 'user', content: `Topic: ${TOPIC}` }])],
      });
    m(
      modelCall('s1', 'moderator', 'select', {
        content: '{}',
        structured: { next: 'skeptic', terminate: true, reason: 'done' },
      }),
    )
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: '' } }],
      });
  });
});

describe('handoff decider (support triage with a route review)', () => {
  const wf = loadWorkflow('support-triage');
  const INPUT = 'I was charged twice for my subscription.';
  const run = (...facts: Array<NewEvent | NewEvent[]>) =>
    given(wf, facts, { input: INPUT, requestedBy: 'alice' });
  const lookupTool: ToolSpec = {
    name: 'lookup_order',
    description: 'Look an order up',
    parameters: { type: 'object' },
  };
  const ctx = (ids: string) => ({ ids, tools: { lookup_order: lookupTool } });
  const transfer = (to: string, description: string): ToolSpec => ({
    name: `transfer_to_${to}`,
    description,
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'why this agent should take over' } },
      additionalProperties: false,
    },
  });
  const triageTools = [
    escalateToolSpec,
    ...['billing', 'technical', 'general'].map((s) =>
      transfer(s, `Transfer the conversation to the ${s} specialist.`),
    ),
  ];
  const backToTriage = transfer(
    'triage',
    'Hand the conversation back to triage when it is not yours to answer.',
  );
  const routed = modelCall('m1', 'triage', 'reply', {
    toolCalls: [{ id: 'x1', name: 'transfer_to_billing', arguments: { reason: 'a billing question' } }],
  });
  const performed: NewEvent = {
    type: 'handoff.performed',
    actor: agent('triage'),
    data: { from: 'triage', to: 'billing', reason: 'a billing question' },
  };
  const reviewPayload = {
    from: 'triage',
    to: 'billing',
    reason: 'a billing question',
    input: INPUT,
    specialists: ['billing', 'technical', 'general'],
  };
  const routeReview: NewEvent = {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId: 'rr-1',
      kind: 'review',
      subject: { type: 'route', handoff: 1 },
      title: 'Check routing: triage → billing',
      ask: 'triage routed this conversation to billing. Approve, or re-route it to another specialist.',
      payload: reviewPayload,
      payloadHash: sha256(reviewPayload),
      decisions: ['approve', 'edit'],
      roles: ['approver'],
      quorum: 1,
      fourEyes: false,
      requester: 'alice',
      deadline: null,
      onTimeout: null,
      escalation: undefined,
    },
  };
  const bob = { id: 'bob', role: 'approver' };

  it('triage is called first, with a transfer tool per specialist', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'triage', 'c-1', 'reply', [{ role: 'user', content: INPUT }], { tools: triageTools }),
        ],
      });
  });

  it('a transfer → handoff.performed, and a route review; the run waits', () => {
    run(routed)
      .when(ctx('rr'))
      .then({ kind: 'append', events: [performed, routeReview] });
    run(routed, performed, routeReview).when(ctx('c')).then({ kind: 'wait' });
  });

  it('an approved route → the specialist is called, with its own tools and a way back', () => {
    run(routed, performed, routeReview, resolve('rr-1', 'approve', bob))
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'billing', 'c-1', 'reply', [{ role: 'user', content: INPUT }], {
            tools: [lookupTool, escalateToolSpec, backToTriage],
          }),
        ],
      });
  });

  it('a human override → the new agent is called, told about the re-route; the route review is settled', () => {
    const before = run(routed, performed, routeReview);
    const override = before.whenCommand((s) =>
      overrideHandoff(s, actingAs('bob', 'approver'), 'technical', 'it is an app crash'),
    ).result;
    before
      .and(override)
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(
            wf,
            'technical',
            'c-1',
            'reply',
            [
              { role: 'user', content: INPUT },
              { role: 'user', content: '[handoff] re-routed to technical: it is an app crash' },
            ],
            { tools: [escalateToolSpec, backToTriage] },
          ),
        ],
      });
  });

  it('a reviewer who edits the route → handoff.performed to the new agent, then its call', () => {
    const edited = run(
      routed,
      performed,
      routeReview,
      resolve('rr-1', 'edit', bob, { payload: { to: 'general' }, comment: 'general question' }),
    );
    const handedOn: NewEvent = {
      type: 'handoff.performed',
      actor: SYSTEM,
      data: { from: 'billing', to: 'general', reason: 'general question' },
    };
    edited.when(ctx('c')).then({ kind: 'append', events: [handedOn] });
    edited
      .and(handedOn)
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'general', 'c-1', 'reply', [{ role: 'user', content: INPUT }], {
            tools: [escalateToolSpec, backToTriage],
          }),
        ],
      });
  });

  it('the specialist answers → the run completes', () => {
    run(
      routed,
      performed,
      routeReview,
      resolve('rr-1', 'approve', bob),
      modelCall('m2', 'billing', 'reply', { content: 'Refunded the double charge.' }),
    )
      .when()
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Refunded the double charge.' } }],
      });
  });

  it('without a route review the transfer alone is recorded', () => {
    const { routeReview: _none, ...rest } = wf as Extract<typeof wf, { pattern: 'handoff' }>;
    given(WorkflowSchema.parse(rest), [routed], { input: INPUT })
      .when()
      .then({ kind: 'append', events: [performed] });
  });

  it('a transfer to an unknown agent, or too many handoffs, fails the run', () => {
    run(
      modelCall('m1', 'triage', 'reply', {
        toolCalls: [{ id: 'x1', name: 'transfer_to_sales', arguments: {} }],
      }),
    )
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.failed',
            actor: SYSTEM,
            data: { code: 'UNKNOWN_AGENT', message: 'triage transferred to unknown agent "sales"' },
          },
        ],
      });
    const one = WorkflowSchema.parse({ ...wf, maxHandoffs: 1 });
    given(
      one,
      [
        routed,
        performed,
        routeReview,
        resolve('rr-1', 'approve', bob),
        modelCall('m2', 'billing', 'reply', {
          toolCalls: [{ id: 'x2', name: 'transfer_to_triage', arguments: {} }],
        }),
      ],
      { input: INPUT },
    )
      .when()
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.failed',
            actor: SYSTEM,
            data: { code: 'MAX_HANDOFFS', message: 'more than 1 handoffs' },
          },
        ],
      });
  });
});
