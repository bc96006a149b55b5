import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent, Workflow } from '@parley/contracts';
import { WorkflowSchema } from '@parley/contracts';
import {
  SYSTEM,
  agent,
  callPlan,
  given,
  modelCall,
  resolve,
  toolCompleted,
  toolStarted,
} from '@parley/testing';
import type { Step, ToolSpec } from '../steps';
import { MAX_TURN_STEPS } from './agent-turn';
import { sha256 } from './shared';
import { escalateToolSpec } from './tool-loop';

/**
 * Tools in every pattern where an agent speaks: a stage, a worker, the aggregator, a participant, a
 * specialist and a maker run the same tool loop as a single agent, through the same gates.
 */

const refundTool: ToolSpec = {
  name: 'process_refund',
  description: 'Refund',
  parameters: { type: 'object' },
};
const ctx = (ids: string) => ({ ids, tools: { process_refund: refundTool } });
const offered = [refundTool, escalateToolSpec];
const bob = { id: 'bob', role: 'approver' };
const INPUT = 'Refund $150 for order #A1';
const policies = { approvals: [{ tool: 'process_refund', when: 'amount > 100', roles: ['approver'] }] };
const clerk = (name: string, tools = ['process_refund']) => ({ name, system: `You are ${name}.`, tools });
const plain = (name: string) => ({ name, system: `You are ${name}.` });

const args = (amount: number) => ({ order_id: 'A1', amount });
const refundCall = (amount: number) => ({ id: 't1', name: 'process_refund', arguments: args(amount) });

/** `who` asked for a refund of `amount` in model call `callId` (purpose `purpose`). */
const asked = (callId: string, who: string, purpose: string, amount: number) =>
  modelCall(callId, who, purpose, { toolCalls: [refundCall(amount)] });

function requested(callId: string, who: string, amount: number): NewEvent {
  return {
    type: 'tool-call.requested',
    actor: agent(who),
    data: {
      callId: `${callId}.0`,
      agent: who,
      tool: 'process_refund',
      args: args(amount),
      argsHash: sha256({ tool: 'process_refund', args: args(amount) }),
      idempotencyKey: `run-1:${callId}.0`,
    },
  };
}

function approvalOpened(requestId: string, callId: string, who: string, amount: number): NewEvent {
  const payload = { tool: 'process_refund', args: args(amount) };
  return {
    type: 'human-request.opened',
    actor: SYSTEM,
    data: {
      requestId,
      kind: 'approval',
      subject: { type: 'tool-call', callId: `${callId}.0` },
      title: 'Approve process_refund',
      ask: `${who} wants to run process_refund with ${JSON.stringify(args(amount))} (policy: amount > 100).`,
      payload,
      payloadHash: sha256(payload),
      decisions: ['approve', 'reject', 'edit'],
      roles: ['approver'],
      quorum: 1,
      fourEyes: false,
      requester: 'alice',
      deadline: null,
      onTimeout: null,
      escalation: undefined,
      policy: { type: 'approval', index: 0 },
    },
  };
}

/** What the agent sees of its own tool-calling answer: the call, then the tool's result. */
const sawResult = (result: unknown) => [
  { role: 'assistant' as const, content: '', toolCalls: [refundCall(150)] },
  { role: 'tool' as const, content: JSON.stringify(result), toolCallId: 't1' },
];

const REFUNDED = { refunded: 150 };

/**
 * The gated loop every pattern shares, from the agent's tool-calling answer (model call `m1`) on:
 * requested with an approval → wait → approved → run → called again with the result. Returns the
 * scenario with the tool completed, and checks each step on the way.
 */
function gatedRefund(run: ReturnType<typeof given>, who: string, purpose: string) {
  const answered = run.and(asked('m1', who, purpose, 150));
  answered
    .when(ctx('r'))
    .then({ kind: 'append', events: [requested('m1', who, 150), approvalOpened('r-1', 'm1', who, 150)] });
  const waiting = answered.and(requested('m1', who, 150), approvalOpened('r1', 'm1', who, 150));
  waiting.when(ctx('w')).then({ kind: 'wait' });
  const approved = waiting.and(resolve('r1', 'approve', bob));
  approved.when(ctx('x')).then({ kind: 'run-tool', callId: 'm1.0' });
  return approved.and(toolStarted('m1.0', 'run-1:m1.0'), toolCompleted('m1.0', REFUNDED));
}

const callsOf = (step: Step) => {
  assert.equal(step.kind, 'call-models', JSON.stringify(step));
  return step.kind === 'call-models' ? step.calls : [];
};

describe('sequential: a stage agent with tools runs a tool loop', () => {
  const wf: Workflow = WorkflowSchema.parse({
    name: 'refund-line',
    pattern: 'sequential',
    stages: [{ agent: 'clerk' }, { agent: 'writer' }],
    agents: [clerk('clerk'), plain('writer')],
    policies,
  });
  const run = () => given(wf, [], { input: INPUT });

  it('the stage is offered its tools; its refund is gated; the result comes back; the answer goes on', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'clerk', 'c-1', 'stage:0', [{ role: 'user', content: INPUT }], { tools: offered }),
        ],
      });
    const done = gatedRefund(run(), 'clerk', 'stage:0');
    done.when(ctx('c')).then({
      kind: 'call-models',
      calls: [
        callPlan(wf, 'clerk', 'c-1', 'stage:0', [{ role: 'user', content: INPUT }, ...sawResult(REFUNDED)], {
          tools: offered,
        }),
      ],
    });
    // The answer without tool calls is the stage's output: the next stage (no tools) gets it.
    done
      .and(modelCall('m2', 'clerk', 'stage:0', { content: 'Refunded $150.' }))
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [callPlan(wf, 'writer', 'c-1', 'stage:1', [{ role: 'user', content: 'Refunded $150.' }])],
      });
  });

  it('a rejected refund is never run; the stage hears why and answers', () => {
    const rejected = run()
      .and(asked('m1', 'clerk', 'stage:0', 150), requested('m1', 'clerk', 150))
      .and(approvalOpened('r1', 'm1', 'clerk', 150), resolve('r1', 'reject', bob, { comment: 'no' }));
    const step = rejected.when(ctx('x')).thenMatch((s) => {
      assert.equal(s.kind, 'append');
      if (s.kind === 'append') assert.equal(s.events[0].type, 'tool-call.rejected');
    });
    rejected
      .andStep(step)
      .when(ctx('c'))
      .thenMatch((s) => {
        const [plan] = callsOf(s);
        assert.equal(plan.purpose, 'stage:0');
        assert.deepEqual(plan.messages.at(-1), {
          role: 'tool',
          content: JSON.stringify({ error: 'rejected by a human: no' }),
          toolCallId: 't1',
        });
      });
  });

  it(`a stage that keeps calling tools fails after ${MAX_TURN_STEPS} steps`, () => {
    let g = run();
    for (let i = 1; i <= MAX_TURN_STEPS; i++) {
      const id = `m${i}`;
      g = g.and(
        modelCall(id, 'clerk', 'stage:0', { toolCalls: [refundCall(50)] }),
        requested(id, 'clerk', 50),
        toolStarted(`${id}.0`, `run-1:${id}.0`),
        toolCompleted(`${id}.0`, { refunded: 50 }),
      );
    }
    g.when(ctx('f')).thenMatch((s) => {
      assert.equal(s.kind, 'append');
      if (s.kind === 'append')
        assert.deepEqual(s.events[0].data, {
          code: 'MAX_STEPS',
          message: `clerk did not answer within ${MAX_TURN_STEPS} steps (stage:0)`,
        });
    });
  });
});

describe('concurrent: workers and the aggregator with tools run tool loops', () => {
  const wf: Workflow = WorkflowSchema.parse({
    name: 'refund-fan',
    pattern: 'concurrent',
    workers: ['clerk', 'analyst'],
    aggregator: 'lead',
    agents: [clerk('clerk'), plain('analyst'), clerk('lead')],
    policies,
  });
  const run = () => given(wf, [], { input: INPUT });

  it('the fan-out offers tools only to the worker that has them; the gated worker is called again alone', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'clerk', 'c-1', 'worker:clerk', [{ role: 'user', content: INPUT }], {
            tools: offered,
          }),
          callPlan(wf, 'analyst', 'c-2', 'worker:analyst', [{ role: 'user', content: INPUT }]),
        ],
      });
    const done = gatedRefund(
      run().and(modelCall('a1', 'analyst', 'worker:analyst', { content: 'A report' })),
      'clerk',
      'worker:clerk',
    );
    done.when(ctx('c')).then({
      kind: 'call-models',
      calls: [
        callPlan(
          wf,
          'clerk',
          'c-1',
          'worker:clerk',
          [{ role: 'user', content: INPUT }, ...sawResult(REFUNDED)],
          {
            tools: offered,
          },
        ),
      ],
    });
    // Both turns done: the aggregator (with tools) gets the final answers only.
    done
      .and(modelCall('m2', 'clerk', 'worker:clerk', { content: 'Refunded.' }))
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(
            wf,
            'lead',
            'c-1',
            'aggregate',
            [
              {
                role: 'user',
                content: `Request: ${INPUT}\n\nResults:\n[clerk] Refunded.\n\n[analyst] A report`,
              },
            ],
            { tools: offered },
          ),
        ],
      });
  });

  it("the aggregator's refund is gated like any other", () => {
    const workersDone = run().and(
      modelCall('w1', 'clerk', 'worker:clerk', { content: 'C' }),
      modelCall('w2', 'analyst', 'worker:analyst', { content: 'A' }),
    );
    const done = gatedRefund(workersDone, 'lead', 'aggregate');
    done.when(ctx('c')).thenMatch((s) => {
      const [plan] = callsOf(s);
      assert.equal(plan.agent.name, 'lead');
      assert.deepEqual(plan.messages.slice(-2), sawResult(REFUNDED));
    });
    done
      .and(modelCall('m2', 'lead', 'aggregate', { content: 'All refunded.' }))
      .when(ctx('d'))
      .thenMatch((s) => {
        assert.equal(s.kind, 'append');
        if (s.kind === 'append') assert.deepEqual(s.events[0].data, { output: 'All refunded.' });
      });
  });
});

describe('group chat: a participant with tools runs a tool loop within its turn', () => {
  const wf: Workflow = WorkflowSchema.parse({
    name: 'refund-chat',
    pattern: 'group-chat',
    participants: ['clerk', 'critic'],
    maxTurns: 4,
    agents: [clerk('clerk'), plain('critic')],
    policies,
  });
  const selected = (speaker: string): NewEvent => ({
    type: 'speaker.selected',
    actor: SYSTEM,
    data: { speaker, reason: 'round-robin' },
  });
  const run = () => given(wf, [selected('clerk')], { input: INPUT });

  it('the speaker is offered its tools; the refund is gated; the turn ends with its answer; the next speaker is picked', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'clerk', 'c-1', 'turn', [{ role: 'user', content: `Topic: ${INPUT}` }], {
            tools: offered,
          }),
        ],
      });
    const done = gatedRefund(run(), 'clerk', 'turn');
    done.when(ctx('c')).then({
      kind: 'call-models',
      calls: [
        callPlan(
          wf,
          'clerk',
          'c-1',
          'turn',
          [{ role: 'user', content: `Topic: ${INPUT}` }, ...sawResult(REFUNDED)],
          {
            tools: offered,
          },
        ),
      ],
    });
    const turned = done.and(modelCall('m2', 'clerk', 'turn', { content: 'Refunded.' }));
    turned.when(ctx('s')).then({ kind: 'append', events: [selected('critic')] });
    // The critic (no tools) sees one clerk turn: its answer, not the tool-calling step.
    turned
      .and(selected('critic'))
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'critic', 'c-1', 'turn', [
            { role: 'user', content: `Topic: ${INPUT}` },
            { role: 'user', content: '[clerk] Refunded.' },
          ]),
        ],
      });
  });
});

describe('magentic: a specialist with tools runs a tool loop for its task', () => {
  const wf: Workflow = WorkflowSchema.parse({
    name: 'refund-ops',
    pattern: 'magentic',
    manager: 'boss',
    specialists: ['clerk'],
    agents: [plain('boss'), clerk('clerk')],
    policies,
  });
  const plan: NewEvent = {
    type: 'plan.recorded',
    actor: agent('boss'),
    data: { revision: 0, facts: 'f', steps: [{ agent: 'clerk', task: 'refund' }], source: 'manager' },
  };
  const ledger = (satisfied: boolean): NewEvent => ({
    type: 'ledger.updated',
    actor: agent('boss'),
    data: {
      is_request_satisfied: satisfied,
      is_progress_being_made: true,
      is_in_loop: false,
      next_speaker: 'clerk',
      instruction: 'clerk, refund A1',
      reason: 'r',
    },
  });
  const run = () =>
    given(
      wf,
      [
        modelCall('p1', 'boss', 'plan', { structured: {} }),
        plan,
        modelCall('l1', 'boss', 'ledger', { structured: {} }),
        ledger(false),
      ],
      {
        input: INPUT,
      },
    );

  it('the delegated task offers the tools; the refund is gated; the report is the final answer', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'clerk', 'c-1', 'task', [{ role: 'user', content: 'clerk, refund A1' }], {
            tools: offered,
          }),
        ],
      });
    const done = gatedRefund(run(), 'clerk', 'task');
    done.when(ctx('c')).thenMatch((s) => {
      const [call] = callsOf(s);
      assert.equal(call.purpose, 'task');
      assert.deepEqual(call.messages.slice(1), [
        { role: 'user', content: 'clerk, refund A1' },
        ...sawResult(REFUNDED),
      ]);
    });
    // The manager's next ledger (structured, tool-less) reads the report, not the tool-calling step.
    done
      .and(modelCall('m2', 'clerk', 'task', { content: 'Refunded.' }))
      .when(ctx('c'))
      .thenMatch((s) => {
        const [call] = callsOf(s);
        assert.equal(call.purpose, 'ledger');
        assert.deepEqual(call.tools, []);
        assert.deepEqual(call.messages.at(-1), { role: 'user', content: '[clerk] Refunded.' });
      });
  });
});

describe('maker-checker: a maker with tools runs a tool loop for its draft', () => {
  const wf: Workflow = WorkflowSchema.parse({
    name: 'refund-letter',
    pattern: 'maker-checker',
    maker: 'clerk',
    checker: { human: { roles: ['approver'] } },
    agents: [clerk('clerk')],
    policies,
  });
  const run = () => given(wf, [], { input: INPUT });

  it('the draft call offers the tools; the refund is gated; the human checks the final draft', () => {
    run()
      .when(ctx('c'))
      .then({
        kind: 'call-models',
        calls: [
          callPlan(wf, 'clerk', 'c-1', 'draft', [{ role: 'user', content: INPUT }], { tools: offered }),
        ],
      });
    const done = gatedRefund(run(), 'clerk', 'draft');
    done.when(ctx('c')).thenMatch((s) => {
      const [call] = callsOf(s);
      assert.deepEqual(call.messages.slice(1), [{ role: 'user', content: INPUT }, ...sawResult(REFUNDED)]);
    });
    done
      .and(modelCall('m2', 'clerk', 'draft', { content: 'Dear customer, refunded.' }))
      .when(ctx('r'))
      .thenMatch((s) => {
        assert.equal(s.kind, 'append');
        if (s.kind !== 'append') return;
        const data = s.events[0].data as { subject: unknown; payload: unknown };
        assert.deepEqual(data.subject, { type: 'draft', round: 1 });
        assert.deepEqual(data.payload, { round: 1, draft: 'Dear customer, refunded.' });
      });
  });
});
