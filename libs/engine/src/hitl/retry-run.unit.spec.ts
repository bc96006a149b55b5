import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewEvent } from '@parley/contracts';
import {
  SYSTEM,
  actingAs,
  agent,
  given,
  loadWorkflow,
  modelCall,
  modelFailed,
  toolCompleted,
  toolStarted,
} from '@parley/testing';
import { retryRun } from './retry-run';

const refundDesk = loadWorkflow('refund-desk');
const A = agent('refund-agent');
const args = { order_id: 'A1', amount: 40, reason: 'broken' };

const runFailed = (code: string, message = 'the model call of refund-agent (reply) failed'): NewEvent => ({
  type: 'run.failed',
  actor: SYSTEM,
  data: { code, message },
});

/** carol's run: the refund ran and completed, then the agent's next model call failed for good. */
const failedAfterRefund = () =>
  given(
    refundDesk,
    [
      modelCall('m1', 'refund-agent', 'reply', {
        toolCalls: [{ id: 't1', name: 'process_refund', arguments: args }],
      }),
      {
        type: 'tool-call.requested',
        actor: A,
        data: {
          callId: 'm1.0',
          agent: 'refund-agent',
          tool: 'process_refund',
          args,
          argsHash: 'h',
          idempotencyKey: 'run-1:m1.0',
        },
      },
      toolStarted('m1.0', 'run-1:m1.0'),
      toolCompleted('m1.0', { refundId: 'rf_1', status: 'refunded' }),
      modelFailed('m2', 'refund-agent', 'reply'),
      runFailed('MODEL_CALL_FAILED'),
    ],
    { requestedBy: 'carol' },
  );

const carol = actingAs('carol', 'participant');

describe('retry a failed run (pure decider)', () => {
  it('the requester retries: one attributed fact, naming the failure it continues from', () => {
    given(refundDesk, [modelFailed('m1', 'refund-agent', 'reply'), runFailed('MODEL_CALL_FAILED')], {
      requestedBy: 'carol',
    })
      .whenCommand((state) => retryRun(state, carol, 'the model is back'))
      .then([
        {
          type: 'run.retried',
          actor: { kind: 'human', id: 'carol', role: 'requester' },
          data: {
            by: { kind: 'human', id: 'carol', role: 'requester' },
            reason: 'the model is back',
            failedCode: 'MODEL_CALL_FAILED',
          },
        },
      ]);
  });

  it('continues from the failed step: the model is asked again, the completed refund is not run again', () => {
    const run = failedAfterRefund();
    const retried = run.and(retryRun(run.state, carol));
    assert.equal(retried.state.status, 'running');
    assert.equal(retried.state.failure, undefined);
    // Without settling the old failure, decide would fail the run again at once (MODEL_CALL_FAILED).
    retried.when().thenMatch((step) => {
      assert.equal(step.kind, 'call-models');
      if (step.kind !== 'call-models') return;
      assert.deepEqual(
        step.calls.map((c) => [c.callId, c.agent.name, c.purpose]),
        [['d10-1', 'refund-agent', 'reply']],
      );
      // the agent sees its refund's result: the conversation goes on from it
      const tool = step.calls[0].messages.find((m) => m.role === 'tool');
      assert.equal(tool?.content, JSON.stringify({ refundId: 'rf_1', status: 'refunded' }));
    });
    assert.deepEqual(
      retried.state.toolCalls.map((t) => [t.callId, t.status]),
      [['m1.0', 'completed']],
    );
  });

  it('a run that fails again after a retry fails again (only the settled failure is forgiven)', () => {
    const run = failedAfterRefund();
    const again = run.and(retryRun(run.state, carol), modelFailed('m3', 'refund-agent', 'reply'));
    again.when().then({
      kind: 'append',
      events: [runFailed('MODEL_CALL_FAILED')],
    });
  });

  it("an approver may retry anyone's run; a participant who did not start it may not", () => {
    const run = failedAfterRefund();
    assert.equal(retryRun(run.state, actingAs('dave', 'approver'))[0].actor.role, 'approver');
    const refused = run
      .whenCommand((state) => retryRun(state, actingAs('bob', 'participant')))
      .thenThrows('RUN.FORBIDDEN', 'forbidden');
    assert.deepEqual(refused.details, { action: 'retry', roles: ['requester', 'approver'] });
  });

  it("follows the workflow's permissions.retry", () => {
    const managersOnly = { ...refundDesk, permissions: { retry: ['manager'] } };
    const run = given(
      managersOnly,
      [modelFailed('m1', 'refund-agent', 'reply'), runFailed('MODEL_CALL_FAILED')],
      {
        requestedBy: 'carol',
      },
    );
    run.whenCommand((state) => retryRun(state, carol)).thenThrows('RUN.FORBIDDEN');
    assert.equal(retryRun(run.state, actingAs('maya', 'participant', 'manager'))[0].actor.role, 'manager');
  });

  it('records the kind of the identity that retried (a service token is not a human)', () => {
    const run = failedAfterRefund();
    const bot = { ...actingAs('refund-bot', 'approver'), kind: 'service' as const };
    assert.deepEqual(retryRun(run.state, bot)[0].actor, {
      kind: 'service',
      id: 'refund-bot',
      role: 'approver',
    });
  });

  it('only a failed run: 409 RUN.NOT_FAILED otherwise', () => {
    given(refundDesk, [modelCall('m1', 'refund-agent', 'reply', { content: 'Done.' })], {
      requestedBy: 'carol',
    })
      .whenCommand((state) => retryRun(state, carol))
      .thenThrows('RUN.NOT_FAILED', 'conflict');
  });

  it('not a failure a human decided or a limit: 409 RUN.NOT_RETRIABLE', () => {
    given(refundDesk, [runFailed('ESCALATION_REJECTED', 'A human rejected the request.')], {
      requestedBy: 'carol',
    })
      .whenCommand((state) => retryRun(state, carol))
      .thenThrows('RUN.NOT_RETRIABLE', 'conflict');
  });
});

describe('retried attempts in the fold', () => {
  it('counts the failed attempts of an open call and when the next one is due', () => {
    const run = given(refundDesk, [
      {
        type: 'model-call.started',
        actor: A,
        data: { callId: 'm1', agent: 'refund-agent', purpose: 'reply', model: 'offline' },
      },
      {
        type: 'model-call.retried',
        actor: A,
        at: '2026-01-01T00:00:01.000Z',
        data: {
          callId: 'm1',
          agent: 'refund-agent',
          purpose: 'reply',
          attempt: 1,
          code: 'MODEL_UNAVAILABLE',
          message: 'HTTP 503',
          delayMs: 250,
        },
      },
      {
        type: 'model-call.retried',
        actor: A,
        at: '2026-01-01T00:00:02.000Z',
        data: {
          callId: 'm1',
          agent: 'refund-agent',
          purpose: 'reply',
          attempt: 2,
          code: 'MODEL_UNAVAILABLE',
          message: 'HTTP 503',
          delayMs: 700,
        },
      },
    ]);
    const [call] = run.state.modelCalls;
    assert.equal(call.status, 'started');
    assert.deepEqual(call.retries, { failed: 2, nextAttemptAt: '2026-01-01T00:00:02.700Z' });
    assert.equal(run.state.status, 'running');
  });
});
