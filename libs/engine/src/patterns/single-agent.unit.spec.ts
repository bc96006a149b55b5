import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent, Workflow } from '@parley/contracts';
import { WorkflowSchema } from '@parley/contracts';
import {
  SYSTEM,
  agent,
  callPlan,
  expired,
  given,
  loadWorkflow,
  modelCall,
  modelFailed,
  modelStarted,
  resolve,
  toolCompleted,
  toolStarted,
} from '@parley/testing';
import { ToolRegistry } from '../tools/tool-registry';
import type { Step, ToolSpec } from '../steps';
import { sha256 } from './shared';
import { escalateToolSpec } from './tool-loop';
import { z } from 'zod';

const refundDesk = loadWorkflow('refund-desk');
const refundTool: ToolSpec = {
  name: 'process_refund',
  description: 'Refund an order',
  parameters: { type: 'object' },
};
const lookupTool: ToolSpec = {
  name: 'lookup_order',
  description: 'Look an order up',
  parameters: { type: 'object' },
};
const tools = { process_refund: refundTool, lookup_order: lookupTool };
const agentTools = [refundTool, lookupTool, escalateToolSpec];
const INPUT = 'Order 1001 arrived broken. Please refund it.';
const bob = { id: 'bob', role: 'approver' };
const A = agent('refund-agent');

const refund = (amount: number) => ({
  id: 't1',
  name: 'process_refund',
  arguments: { orderId: '1001', amount },
});
const argsHash = (amount: number) => sha256({ tool: 'process_refund', args: { orderId: '1001', amount } });

/** The agent asked for a refund of `amount` in model call m1. */
const askedRefund = (amount: number) =>
  modelCall('m1', 'refund-agent', 'reply', { toolCalls: [refund(amount)] });
const requested = (amount: number): NewEvent => ({
  type: 'tool-call.requested',
  actor: A,
  data: {
    callId: 'm1.0',
    agent: 'refund-agent',
    tool: 'process_refund',
    args: { orderId: '1001', amount },
    argsHash: argsHash(amount),
    idempotencyKey: 'run-1:m1.0',
  },
});

const approvalOpened = (requestId: string, amount: number): NewEvent => ({
  type: 'human-request.opened',
  actor: SYSTEM,
  data: {
    requestId,
    kind: 'approval',
    subject: { type: 'tool-call', callId: 'm1.0' },
    title: 'Approve process_refund',
    ask: `refund-agent wants to run process_refund with {"orderId":"1001","amount":${amount}} (policy: amount > 100).`,
    payload: { tool: 'process_refund', args: { orderId: '1001', amount } },
    payloadHash: argsHash(amount),
    decisions: ['approve', 'reject', 'edit'],
    roles: ['approver'],
    quorum: 1,
    fourEyes: true,
    requester: 'alice',
    deadline: '2026-01-01T01:00:00.000Z',
    onTimeout: { action: 'escalate', escalateTo: 'admin' },
    escalation: undefined,
    policy: { type: 'approval', index: 0 },
  },
});

const run = (facts: Array<NewEvent | NewEvent[]> = [], workflow: Workflow = refundDesk, input = INPUT) =>
  given(workflow, facts, { input, requestedBy: 'alice' });
const ctx = { tools, ids: 'n' };

describe('single-agent decider (refund desk)', () => {
  it('given a new run, when decided, then the agent is called with the input and its tools', () => {
    run()
      .when(ctx)
      .then({
        kind: 'call-models',
        calls: [
          callPlan(refundDesk, 'refund-agent', 'n-1', 'reply', [{ role: 'user', content: INPUT }], {
            tools: agentTools,
          }),
        ],
      });
  });

  it('the tool specs come from a ToolRegistry (zod → JSON Schema)', () => {
    const registry = new ToolRegistry().register({
      name: 'process_refund',
      description: 'Refund an order',
      args: z.strictObject({ orderId: z.string(), amount: z.number() }),
      execute: () => ({ result: null }),
    });
    run()
      .when({ ids: 'n', tools: (name) => registry.spec(name) })
      .thenMatch((step) => {
        assert.equal(step.kind, 'call-models');
        if (step.kind !== 'call-models') return;
        assert.deepStrictEqual(step.calls[0].tools, [
          {
            name: 'process_refund',
            description: 'Refund an order',
            parameters: {
              type: 'object',
              properties: { orderId: { type: 'string' }, amount: { type: 'number' } },
              required: ['orderId', 'amount'],
              additionalProperties: false,
            },
          },
          escalateToolSpec,
        ]);
      });
  });

  it('a refund under $100 is requested and then run without a human', () => {
    const g = run([askedRefund(50)]);
    g.when(ctx).then({ kind: 'append', events: [requested(50)] });
    g.and(requested(50)).when(ctx).then({ kind: 'run-tool', callId: 'm1.0' });
  });

  it('a refund over $100 is requested with an approval gate (four-eyes, 1h then escalate to admin)', () => {
    run([askedRefund(150)])
      .when(ctx)
      .then({ kind: 'append', events: [requested(150), approvalOpened('n-1', 150)] });
  });

  it('a refund over $500 escalates to a human instead', () => {
    const payload = { tool: 'process_refund', args: { orderId: '1001', amount: 600 } };
    const context = JSON.stringify(payload);
    const escalation = {
      reason: 'Refunds above $500 need a manager',
      context,
      suggested_action: 'A manager decides the refund.',
      source: 'policy' as const,
    };
    run([askedRefund(600)])
      .when(ctx)
      .then({
        kind: 'append',
        events: [
          requested(600),
          { type: 'escalation.raised', actor: SYSTEM, data: { ...escalation, rule: 'amount > 500' } },
          {
            type: 'human-request.opened',
            actor: SYSTEM,
            data: {
              requestId: 'n-1',
              kind: 'escalation',
              subject: { type: 'tool-call', callId: 'm1.0' },
              title: 'Escalation: Refunds above $500 need a manager',
              ask: 'Refunds above $500 need a manager. Suggested: A manager decides the refund. Approve the held action, reject it, answer or hand back with guidance, or close the run.',
              payload,
              payloadHash: argsHash(600),
              decisions: ['approve', 'reject', 'answer', 'handback', 'close'],
              roles: ['approver'],
              quorum: 1,
              fourEyes: true, // the approval rule's four-eyes holds for the escalation that replaces it
              requester: 'alice',
              deadline: null,
              onTimeout: null,
              escalation,
              policy: { type: 'escalation', index: 0 },
            },
          },
        ],
      });
  });

  it('while the approval is open, the run waits', () => {
    run([askedRefund(150), requested(150), approvalOpened('r1', 150)])
      .when(ctx)
      .then({ kind: 'wait' });
  });

  it('approve → the tool runs; edit → the tool runs (with the edited arguments, see effectiveArgs)', () => {
    const waiting = run([askedRefund(150), requested(150), approvalOpened('r1', 150)]);
    waiting
      .and(resolve('r1', 'approve', bob))
      .when(ctx)
      .then({ kind: 'run-tool', callId: 'm1.0' });
    waiting
      .and(
        resolve('r1', 'edit', bob, {
          payload: { tool: 'process_refund', args: { orderId: '1001', amount: 90 } },
        }),
      )
      .when(ctx)
      .then({ kind: 'run-tool', callId: 'm1.0' });
  });

  it('reject → tool-call.rejected with the reason and the request', () => {
    run([
      askedRefund(150),
      requested(150),
      approvalOpened('r1', 150),
      resolve('r1', 'reject', bob, { comment: 'Out of warranty' }),
    ])
      .when(ctx)
      .then({
        kind: 'append',
        events: [
          {
            type: 'tool-call.rejected',
            actor: SYSTEM,
            data: { callId: 'm1.0', reason: 'rejected by a human: Out of warranty', requestId: 'r1' },
          },
        ],
      });
  });

  it('a tool result → the next model call sees the call and its result', () => {
    run([
      askedRefund(50),
      requested(50),
      toolStarted('m1.0', 'run-1:m1.0'),
      toolCompleted('m1.0', { refunded: 50 }),
    ])
      .when(ctx)
      .then({
        kind: 'call-models',
        calls: [
          callPlan(
            refundDesk,
            'refund-agent',
            'n-1',
            'reply',
            [
              { role: 'user', content: INPUT },
              { role: 'assistant', content: '', toolCalls: [refund(50)] },
              { role: 'tool', content: '{"refunded":50}', toolCallId: 't1' },
            ],
            { tools: agentTools },
          ),
        ],
      });
  });

  it('a rejected call is reported to the model as an error', () => {
    run([
      askedRefund(150),
      requested(150),
      approvalOpened('r1', 150),
      resolve('r1', 'reject', bob, { comment: 'no' }),
      {
        type: 'tool-call.rejected',
        actor: SYSTEM,
        data: { callId: 'm1.0', reason: 'rejected by a human: no', requestId: 'r1' },
      },
    ])
      .when(ctx)
      .thenMatch((step) => {
        assert.equal(step.kind, 'call-models');
        if (step.kind === 'call-models')
          assert.deepStrictEqual(step.calls[0].messages.at(-1), {
            role: 'tool',
            content: '{"error":"rejected by a human: no"}',
            toolCallId: 't1',
          });
      });
  });

  it('a text answer completes the run with it', () => {
    run([
      askedRefund(50),
      requested(50),
      toolStarted('m1.0', 'run-1:m1.0'),
      toolCompleted('m1.0', { refunded: 50 }),
      modelCall('m2', 'refund-agent', 'reply', { content: 'Refunded $50.' }),
    ])
      .when(ctx)
      .then({
        kind: 'append',
        events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Refunded $50.' } }],
      });
  });

  it('after maxSteps model calls without an answer, the run fails', () => {
    const wf = WorkflowSchema.parse({ ...refundDesk, maxSteps: 2 });
    const lookup = (m: string): NewEvent[] => [
      ...modelCall(m, 'refund-agent', 'reply', {
        toolCalls: [{ id: 'x', name: 'lookup_order', arguments: { orderId: '1' } }],
      }),
      {
        type: 'tool-call.requested',
        actor: A,
        data: {
          callId: `${m}.0`,
          agent: 'refund-agent',
          tool: 'lookup_order',
          args: { orderId: '1' },
          argsHash: 'h',
          idempotencyKey: `run-1:${m}.0`,
        },
      },
      toolStarted(`${m}.0`, `run-1:${m}.0`),
      toolCompleted(`${m}.0`, { status: 'shipped' }),
    ];
    run([lookup('m1')], wf)
      .when(ctx)
      .thenMatch((step) => assert.equal(step.kind, 'call-models'));
    run([lookup('m1'), lookup('m2')], wf)
      .when(ctx)
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.failed',
            actor: SYSTEM,
            data: { code: 'MAX_STEPS', message: 'the agent did not answer within 2 steps' },
          },
        ],
      });
  });

  it('a failed model call fails the run', () => {
    run([modelFailed('m1', 'refund-agent', 'reply')])
      .when(ctx)
      .then({
        kind: 'append',
        events: [
          {
            type: 'run.failed',
            actor: SYSTEM,
            data: { code: 'MODEL_CALL_FAILED', message: 'the model call of refund-agent (reply) failed' },
          },
        ],
      });
  });

  it('a model call that started and never completed is made again (the engine reuses its id)', () => {
    run([modelStarted('m1', 'refund-agent', 'reply')])
      .when(ctx)
      .thenMatch((step) => {
        assert.equal(step.kind, 'call-models');
        if (step.kind === 'call-models')
          assert.deepStrictEqual(
            [step.calls[0].agent.name, step.calls[0].purpose],
            ['refund-agent', 'reply'],
          );
      });
  });

  it('a tool call that started without completing is run again, under the same call id (same idempotency key)', () => {
    const g = run([
      askedRefund(150),
      requested(150),
      approvalOpened('r1', 150),
      resolve('r1', 'approve', bob),
      toolStarted('m1.0', 'run-1:m1.0'),
    ]);
    g.when(ctx).then({ kind: 'run-tool', callId: 'm1.0' });
    assert.equal(g.state.toolCalls[0].idempotencyKey, 'run-1:m1.0');
  });

  it('a finished run is done', () => {
    run([{ type: 'run.cancelled', actor: SYSTEM, data: {} }])
      .when(ctx)
      .then({ kind: 'done' });
  });

  describe('expiry', () => {
    const waiting = run([askedRefund(150), requested(150), approvalOpened('r1', 150)]);

    it('an approval that expires with `escalate` opens an escalation to `escalateTo`, about the same call', () => {
      const escalated: Step = {
        kind: 'append',
        events: [
          {
            type: 'human-request.opened',
            actor: SYSTEM,
            data: {
              requestId: 'n-1',
              kind: 'escalation',
              subject: { type: 'tool-call', callId: 'm1.0' },
              title: 'Escalated: Approve process_refund',
              ask: 'Nobody answered in time. refund-agent wants to run process_refund with {"orderId":"1001","amount":150} (policy: amount > 100).',
              payload: { tool: 'process_refund', args: { orderId: '1001', amount: 150 } },
              payloadHash: argsHash(150),
              decisions: ['approve', 'reject', 'answer', 'handback', 'close'],
              roles: ['admin'],
              quorum: 1,
              fourEyes: true,
              requester: 'alice',
              deadline: null,
              onTimeout: null,
              escalation: {
                reason: 'The approval request expired without a decision',
                context: 'Approve process_refund',
                suggested_action: 'Decide the request in place of the original approvers.',
                source: 'policy',
              },
              policy: { type: 'approval', index: 0 },
            },
          },
        ],
      };
      const afterExpiry = waiting.and(expired('r1', 'escalate', 'admin'));
      afterExpiry.when(ctx).then(escalated);
      // the escalation supersedes the expiry: it waits, then its decision counts
      const escalation = afterExpiry.andStep(escalated);
      escalation.when(ctx).then({ kind: 'wait' });
      escalation
        .and(resolve('n-1', 'approve', { id: 'root', role: 'admin' }))
        .when(ctx)
        .then({ kind: 'run-tool', callId: 'm1.0' });
      escalation
        .and(resolve('n-1', 'close', { id: 'root', role: 'admin' }, { comment: 'Handled by phone.' }))
        .when(ctx)
        .then({
          kind: 'append',
          events: [
            {
              type: 'tool-call.rejected',
              actor: SYSTEM,
              data: { callId: 'm1.0', reason: 'closed by a human', requestId: 'n-1' },
            },
            { type: 'run.completed', actor: SYSTEM, data: { output: 'Handled by phone.' } },
          ],
        });
    });

    it('an approval that expires with `reject` or `approve` acts so', () => {
      waiting.and(expired('r1', 'approve')).when(ctx).then({ kind: 'run-tool', callId: 'm1.0' });
      waiting
        .and(expired('r1', 'reject'))
        .when(ctx)
        .then({
          kind: 'append',
          events: [
            {
              type: 'tool-call.rejected',
              actor: SYSTEM,
              data: { callId: 'm1.0', reason: 'rejected by a human', requestId: 'r1' },
            },
          ],
        });
    });
  });

  describe('escalation on the input', () => {
    const legal = 'My lawyer will hear about this broken order.';
    const escalation = {
      reason: 'The customer mentions legal action',
      context: JSON.stringify({ input: legal }),
      suggested_action: 'Hand the case to the legal team.',
      source: 'policy' as const,
    };
    const opened: NewEvent = {
      type: 'human-request.opened',
      actor: SYSTEM,
      data: {
        requestId: 'n-1',
        kind: 'escalation',
        subject: { type: 'escalation' },
        title: 'Escalation: The customer mentions legal action',
        ask: 'The customer mentions legal action. Suggested: Hand the case to the legal team. Approve the held action, reject it, answer or hand back with guidance, or close the run.',
        payload: { input: legal },
        payloadHash: sha256({ input: legal }),
        decisions: ['approve', 'reject', 'answer', 'handback', 'close'],
        roles: ['approver'],
        quorum: 1,
        fourEyes: false,
        requester: 'alice',
        deadline: null,
        onTimeout: null,
        escalation,
      },
    };
    const raised: NewEvent = {
      type: 'escalation.raised',
      actor: SYSTEM,
      data: { ...escalation, rule: 'lawyer|legal action|lawsuit|\\bsue\\b|attorney' },
    };

    it('input matching a rule escalates before any model call, and waits', () => {
      const g = run([], refundDesk, legal);
      g.when(ctx).then({ kind: 'append', events: [raised, opened] });
      g.and(raised, opened).when(ctx).then({ kind: 'wait' });
    });

    it('an answer lets the agent go on, with the answer in its messages', () => {
      run(
        [raised, opened, resolve('n-1', 'answer', bob, { comment: 'Offer a full refund, nothing more.' })],
        refundDesk,
        legal,
      )
        .when(ctx)
        .then({
          kind: 'call-models',
          calls: [
            callPlan(
              refundDesk,
              'refund-agent',
              'n-1',
              'reply',
              [
                { role: 'user', content: legal },
                { role: 'user', content: 'Offer a full refund, nothing more.' },
              ],
              { tools: agentTools },
            ),
          ],
        });
    });

    it('close completes the run with the comment; reject fails it', () => {
      run([raised, opened, resolve('n-1', 'close', bob, { comment: 'Legal handles it.' })], refundDesk, legal)
        .when(ctx)
        .then({
          kind: 'append',
          events: [{ type: 'run.completed', actor: SYSTEM, data: { output: 'Legal handles it.' } }],
        });
      run([raised, opened, resolve('n-1', 'reject', bob, { comment: 'No.' })], refundDesk, legal)
        .when(ctx)
        .then({
          kind: 'append',
          events: [
            { type: 'run.failed', actor: SYSTEM, data: { code: 'ESCALATION_REJECTED', message: 'No.' } },
          ],
        });
    });
  });

  it('the agent escalates through escalate_to_human; the answer becomes the tool result', () => {
    const args = { reason: 'Customer wants a manager', context: 'order 1001', suggested_action: 'Call back' };
    const asked = modelCall('m1', 'refund-agent', 'reply', {
      toolCalls: [{ id: 't9', name: 'escalate_to_human', arguments: args }],
    });
    const hash = sha256({ tool: 'escalate_to_human', args });
    const events: NewEvent[] = [
      {
        type: 'tool-call.requested',
        actor: A,
        data: {
          callId: 'm1.0',
          agent: 'refund-agent',
          tool: 'escalate_to_human',
          args,
          argsHash: hash,
          idempotencyKey: 'run-1:m1.0',
        },
      },
      { type: 'escalation.raised', actor: A, data: { ...args, source: 'agent' } },
      {
        type: 'human-request.opened',
        actor: SYSTEM,
        data: {
          requestId: 'n-1',
          kind: 'escalation',
          subject: { type: 'tool-call', callId: 'm1.0' },
          title: 'Escalation from refund-agent: Customer wants a manager',
          ask: 'Customer wants a manager. Suggested: Call back. Answer the agent, hand back with guidance, or close the run.',
          payload: { ...args, agent: 'refund-agent' },
          payloadHash: sha256({ ...args, agent: 'refund-agent' }),
          decisions: ['approve', 'reject', 'answer', 'handback', 'close'],
          roles: ['approver'],
          quorum: 1,
          fourEyes: false,
          requester: 'alice',
          deadline: null,
          onTimeout: null,
          escalation: { ...args, source: 'agent' },
        },
      },
    ];
    const g = run([asked]);
    g.when(ctx).then({ kind: 'append', events });
    g.and(events).when(ctx).then({ kind: 'wait' });
    g.and(events, resolve('n-1', 'answer', bob, { comment: 'Tell them I call at 5.' }))
      .when(ctx)
      .then({
        kind: 'append',
        events: [
          {
            type: 'tool-call.completed',
            actor: SYSTEM,
            data: { callId: 'm1.0', result: { human: 'Tell them I call at 5.' }, reconciled: false },
          },
        ],
      });
  });

  it('a confirmation rule asks the requester themself (user:<id>)', () => {
    const wf = WorkflowSchema.parse({
      ...refundDesk,
      policies: { approvals: [{ tool: 'process_refund', kind: 'confirmation' }], escalations: [] },
    });
    run([askedRefund(20)], wf)
      .when(ctx)
      .thenMatch((step) => {
        assert.equal(step.kind, 'append');
        if (step.kind !== 'append') return;
        assert.deepStrictEqual(
          step.events.map((e) => e.type),
          ['tool-call.requested', 'human-request.opened'],
        );
        const data = step.events[1].data as Record<string, unknown>;
        assert.deepStrictEqual(
          { kind: data.kind, roles: data.roles, decisions: data.decisions, title: data.title, ask: data.ask },
          {
            kind: 'confirmation',
            roles: ['user:alice'],
            decisions: ['confirm', 'decline'],
            title: 'Confirm process_refund',
            ask: 'refund-agent will run process_refund with {"orderId":"1001","amount":20}. Confirm?',
          },
        );
      });
  });
});
