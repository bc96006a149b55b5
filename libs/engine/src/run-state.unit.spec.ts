import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent, RunEvent } from '@parley/contracts';
import {
  SYSTEM,
  agent,
  expired,
  given,
  humanActor,
  loadWorkflow,
  messagePosted,
  modelCall,
  modelFailed,
  resolve,
  toolCompleted,
  toolFailed,
  toolStarted,
} from '@parley/testing';
import { evolve, foldRun, isTerminal, openRequests, requestKindOf } from './run-state';

const refundDesk = loadWorkflow('refund-desk');
const approver = { id: 'bob', role: 'approver' };

const toolRequested = (
  callId: string,
  tool = 'process_refund',
  args: unknown = { amount: 150 },
): NewEvent => ({
  type: 'tool-call.requested',
  actor: agent('refund-agent'),
  data: { callId, agent: 'refund-agent', tool, args, argsHash: 'h', idempotencyKey: `run-1:${callId}` },
});

const opened = (requestId: string, extra: Record<string, unknown> = {}): NewEvent => ({
  type: 'human-request.opened',
  actor: SYSTEM,
  data: {
    requestId,
    kind: 'approval',
    subject: { type: 'tool-call', callId: 'm1.0' },
    title: 'Approve process_refund',
    ask: 'ok?',
    payload: { tool: 'process_refund', args: { amount: 150 } },
    payloadHash: 'h',
    decisions: ['approve', 'reject', 'edit'],
    roles: ['approver'],
    requester: 'alice',
    deadline: null,
    onTimeout: null,
    ...extra,
  },
});

const vote = (
  requestId: string,
  decision: string,
  by: { id: string; role: string },
  comment?: string,
): NewEvent => ({
  type: 'human-decision.recorded',
  actor: humanActor(by.id),
  data: { requestId, decision, by, comment, payloadHash: 'h' },
});

describe('run state: the fold of a run', () => {
  it('run.started sets up the run, with the input as the first transcript entry', () => {
    const g = given(refundDesk, [], { input: 'Refund order 1001', requestedBy: 'alice' });
    assert.deepStrictEqual(g.state, {
      runId: 'run-1',
      seq: 1,
      status: 'running',
      workflow: refundDesk,
      input: 'Refund order 1001',
      requestedBy: 'alice',
      askers: ['alice'],
      startedAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      modelCalls: [],
      toolCalls: [],
      requests: [],
      transcript: [
        {
          seq: 1,
          at: '2026-01-01T00:00:00.000Z',
          role: 'human',
          speaker: 'alice',
          content: 'Refund order 1001',
        },
      ],
      plans: [],
      ledgers: [],
      escalations: [],
      handoffs: [],
      speakers: [],
      currentAgent: undefined,
    });
  });

  it('a handoff run starts with triage holding the conversation', () => {
    assert.equal(given(loadWorkflow('support-triage')).state.currentAgent, 'triage');
  });

  it('run.started twice throws', () => {
    const g = given(refundDesk);
    const state = g.state;
    assert.throws(
      () => evolve(state, { ...g.events[0], seq: 2 }),
      /run\.started at seq 2, but the run run-1 has already started/,
    );
  });

  it('an event before run.started throws', () => {
    const g = given(refundDesk, [messagePosted({ id: 'alice', role: 'participant' }, 'hi')]);
    assert.throws(() => foldRun(g.events.slice(1)), /human-message\.posted at seq 2 before run\.started/);
    assert.equal(foldRun([]), undefined);
  });

  it('model calls: started, completed (text goes to the transcript, structured output does not), failed', () => {
    const g = given(loadWorkflow('incident-response'), [
      ...modelCall('m1', 'incident-commander', 'plan', {
        content: '{"facts":""}',
        structured: { facts: '', steps: [] },
      }),
      ...modelCall('m2', 'investigator', 'task', { content: 'The disk is full.' }),
      ...modelFailed('m3', 'remediator', 'task'),
    ]);
    const s = g.state;
    assert.deepStrictEqual(s.modelCalls, [
      {
        callId: 'm1',
        agent: 'incident-commander',
        purpose: 'plan',
        status: 'completed',
        content: '{"facts":""}',
        toolCalls: [],
        structured: { facts: '', steps: [] },
        seq: 3,
      },
      {
        callId: 'm2',
        agent: 'investigator',
        purpose: 'task',
        status: 'completed',
        content: 'The disk is full.',
        toolCalls: [],
        structured: undefined,
        seq: 5,
      },
      {
        callId: 'm3',
        agent: 'remediator',
        purpose: 'task',
        status: 'failed',
        content: '',
        toolCalls: [],
        seq: 6,
      },
    ]);
    assert.deepStrictEqual(
      s.transcript.map((t) => [t.seq, t.role, t.speaker, t.content]),
      [
        [1, 'human', 'alice', 'Hello'],
        [5, 'agent', 'investigator', 'The disk is full.'],
      ],
    );
    assert.equal(s.status, 'running', 'a failed model call is a fact; the decider fails the run');
  });

  it('tool calls: requested → started → completed, failed, rejected', () => {
    const s = given(refundDesk, [
      toolRequested('m1.0'),
      toolStarted('m1.0', 'run-1:m1.0'),
      toolCompleted('m1.0', { refunded: 150 }),
      toolRequested('m1.1', 'lookup_order', { orderId: '1' }),
      toolStarted('m1.1', 'run-1:m1.1'),
      toolFailed('m1.1', 'TOOL.FAILED', 'order service down'),
      toolRequested('m1.2'),
      {
        type: 'tool-call.rejected',
        actor: SYSTEM,
        data: { callId: 'm1.2', reason: 'rejected by a human', requestId: 'r1' },
      },
      toolRequested('m1.3'),
      toolStarted('m1.3', 'run-1:m1.3'),
    ]).state;
    const base = { agent: 'refund-agent', argsHash: 'h' };
    assert.deepStrictEqual(s.toolCalls, [
      {
        ...base,
        callId: 'm1.0',
        tool: 'process_refund',
        args: { amount: 150 },
        idempotencyKey: 'run-1:m1.0',
        status: 'completed',
        result: { refunded: 150 },
        seq: 2,
        startedSeq: 3,
      },
      {
        ...base,
        callId: 'm1.1',
        tool: 'lookup_order',
        args: { orderId: '1' },
        idempotencyKey: 'run-1:m1.1',
        status: 'failed',
        error: 'order service down',
        seq: 5,
        startedSeq: 6,
      },
      {
        ...base,
        callId: 'm1.2',
        tool: 'process_refund',
        args: { amount: 150 },
        idempotencyKey: 'run-1:m1.2',
        status: 'rejected',
        error: 'rejected by a human',
        seq: 8,
      },
      {
        ...base,
        callId: 'm1.3',
        tool: 'process_refund',
        args: { amount: 150 },
        idempotencyKey: 'run-1:m1.3',
        status: 'started',
        seq: 10,
        startedSeq: 11,
      },
    ]);
    assert.deepStrictEqual(
      s.transcript.filter((t) => t.role === 'tool').map((t) => [t.speaker, t.content]),
      [['process_refund', '{"refunded":150}']],
    );
  });

  it('a request: opened (waiting) → claimed → votes → resolved (running)', () => {
    let g = given(refundDesk, [toolRequested('m1.0'), opened('r1', { quorum: 2 })]);
    assert.equal(g.state.status, 'waiting');
    assert.deepStrictEqual(
      openRequests(g.state).map((r) => r.requestId),
      ['r1'],
    );
    assert.equal(requestKindOf(g.state, 'r1'), 'approval');
    assert.equal(requestKindOf(g.state, 'nope'), undefined);

    g = g.and(
      { type: 'human-request.claimed', actor: humanActor('bob'), data: { requestId: 'r1', by: approver } },
      vote('r1', 'approve', approver),
    );
    let r = g.state.requests[0];
    assert.equal(g.state.status, 'waiting');
    assert.deepStrictEqual(r.claimedBy, approver);
    assert.deepStrictEqual(r.votes, [
      {
        decision: 'approve',
        by: approver,
        comment: undefined,
        payload: undefined,
        payloadHash: 'h',
        seq: 5,
        at: '2026-01-01T00:00:00.004Z',
      },
    ]);
    assert.equal(r.status, 'open');

    const carol = { id: 'carol', role: 'approver' };
    g = g.and(vote('r1', 'approve', carol), {
      type: 'human-request.resolved',
      actor: humanActor('carol'),
      data: { requestId: 'r1', outcome: 'approve', comment: 'fine', deciders: [approver, carol] },
    });
    r = g.state.requests[0];
    assert.equal(g.state.status, 'running');
    assert.deepStrictEqual(
      {
        status: r.status,
        outcome: r.outcome,
        outcomeComment: r.outcomeComment,
        outcomePayload: r.outcomePayload,
        closedSeq: r.closedSeq,
        votes: r.votes.length,
        openedSeq: r.openedSeq,
      },
      {
        status: 'resolved',
        outcome: 'approve',
        outcomeComment: 'fine',
        outcomePayload: undefined,
        closedSeq: 7,
        votes: 2,
        openedSeq: 3,
      },
    );
    assert.deepStrictEqual(openRequests(g.state), []);
  });

  it('a request that expires records its timeout action and the run runs on', () => {
    const s = given(refundDesk, [
      toolRequested('m1.0'),
      opened('r1', {
        deadline: '2026-01-01T01:00:00.000Z',
        onTimeout: { action: 'escalate', escalateTo: 'admin' },
      }),
      expired('r1', 'escalate', 'admin'),
    ]).state;
    assert.equal(s.status, 'running');
    assert.equal(s.requests[0].status, 'expired');
    assert.equal(s.requests[0].expiredAction, 'escalate');
    assert.equal(s.requests[0].closedSeq, 4);
  });

  it('answers to input and escalation requests are spoken in the transcript; other decisions are not', () => {
    const s = given(refundDesk, [
      opened('r1', { kind: 'escalation', subject: { type: 'escalation' }, decisions: ['answer', 'close'] }),
      ...resolve('r1', 'answer', approver, { comment: 'Refund it in full.' }),
      opened('r2'),
      ...resolve('r2', 'reject', approver, { comment: 'Too much.' }),
      messagePosted({ id: 'dave', role: 'participant' }, 'Any news?'),
    ]).state;
    assert.deepStrictEqual(
      s.transcript.map((t) => [t.seq, t.role, t.speaker, t.content]),
      [
        [1, 'human', 'alice', 'Hello'],
        [3, 'human', 'bob', 'Refund it in full.'],
        [8, 'human', 'dave', 'Any news?'],
      ],
    );
  });

  it('status: terminal facts end the run, whatever is open', () => {
    const base = given(refundDesk, [opened('r1')]);
    const completed = base.and({ type: 'run.completed', actor: SYSTEM, data: { output: 'done' } }).state;
    assert.deepStrictEqual([completed.status, completed.output], ['completed', 'done']);
    const failed = base.and({
      type: 'run.failed',
      actor: SYSTEM,
      data: { code: 'MAX_STEPS', message: 'too long' },
    }).state;
    assert.deepStrictEqual(
      [failed.status, failed.failure],
      ['failed', { code: 'MAX_STEPS', message: 'too long' }],
    );
    const cancelled = base.and({ type: 'run.cancelled', actor: humanActor('alice'), data: {} }).state;
    assert.deepStrictEqual(
      [cancelled.status, cancelled.failure],
      ['cancelled', { code: 'CANCELLED', message: 'cancelled' }],
    );
    const after = base.and(
      { type: 'run.completed', actor: SYSTEM, data: { output: 'done' } },
      ...resolve('r1', 'approve', approver),
    ).state;
    assert.equal(after.status, 'completed', 'a terminal status is never derived back to running');
    assert.deepStrictEqual(
      ['running', 'waiting', 'completed', 'failed', 'cancelled'].map((s) => isTerminal(s as never)),
      [false, false, true, true, true],
    );
  });

  it('handoffs by agents and by humans move the conversation', () => {
    const s = given(loadWorkflow('support-triage'), [
      {
        type: 'handoff.performed',
        actor: agent('triage'),
        data: { from: 'triage', to: 'billing', reason: 'an invoice' },
      },
      {
        type: 'handoff.overridden',
        actor: humanActor('bob'),
        data: { by: approver, to: 'technical', reason: 'it is a crash' },
      },
    ]).state;
    assert.equal(s.currentAgent, 'technical');
    assert.deepStrictEqual(s.handoffs, [
      { from: 'triage', to: 'billing', reason: 'an invoice', by: 'agent', seq: 2 },
      { from: 'billing', to: 'technical', reason: 'it is a crash', by: 'human', seq: 3 },
    ]);
    assert.deepStrictEqual(s.transcript[1], {
      seq: 3,
      at: '2026-01-01T00:00:00.002Z',
      role: 'system',
      speaker: 'bob',
      content: 're-routed to technical: it is a crash',
    });
  });

  it('pattern facts: plans, ledgers, escalations, speakers', () => {
    const ledger = {
      is_request_satisfied: false,
      is_progress_being_made: true,
      is_in_loop: false,
      next_speaker: 'investigator',
      instruction: 'look',
      reason: 'r',
    };
    const s = given(loadWorkflow('incident-response'), [
      {
        type: 'plan.recorded',
        actor: agent('incident-commander'),
        data: {
          revision: 0,
          facts: 'f',
          steps: [{ agent: 'investigator', task: 'look' }],
          source: 'manager',
        },
      },
      { type: 'ledger.updated', actor: agent('incident-commander'), data: ledger },
      {
        type: 'escalation.raised',
        actor: SYSTEM,
        data: { reason: 'why', context: 'c', suggested_action: 's', source: 'policy', rule: 'amount > 500' },
      },
      { type: 'speaker.selected', actor: SYSTEM, data: { speaker: 'investigator', reason: 'round-robin' } },
    ]).state;
    assert.deepStrictEqual(s.plans, [
      {
        revision: 0,
        facts: 'f',
        steps: [{ agent: 'investigator', task: 'look' }],
        source: 'manager',
        seq: 2,
      },
    ]);
    assert.deepStrictEqual(s.ledgers, [{ ...ledger, seq: 3 }]);
    assert.deepStrictEqual(s.escalations, [
      { reason: 'why', context: 'c', suggested_action: 's', source: 'policy', rule: 'amount > 500', seq: 4 },
    ]);
    assert.deepStrictEqual(s.speakers, [{ speaker: 'investigator', seq: 5 }]);
    assert.equal(s.seq, 5);
    assert.equal(s.updatedAt, '2026-01-01T00:00:00.004Z');
  });

  it('the same events fold to the same state (deterministic, serialisable)', () => {
    const g = given(refundDesk, [toolRequested('m1.0'), opened('r1'), ...resolve('r1', 'approve', approver)]);
    const events: RunEvent[] = structuredClone(g.events);
    assert.deepStrictEqual(foldRun(events), g.state);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(g.state)), JSON.parse(JSON.stringify(foldRun(events))));
  });
});
