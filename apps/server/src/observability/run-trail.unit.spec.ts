import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '@parley/contracts';
import { redactSecrets } from './logging/json-logs';
import { RunTrail } from './run-trail';

let seq = 0;
const fact = (type: string, data: Record<string, unknown>): RunEvent =>
  ({
    type,
    data,
    runId: 'r1',
    seq: ++seq,
    eventId: `e${seq}`,
    at: new Date(seq * 1000).toISOString(),
  }) as unknown as RunEvent;
const started = (callId: string, agent = 'clerk') =>
  fact('model-call.started', { callId, agent, purpose: 'turn', model: 'm' });
const completed = (callId: string, toolCalls: unknown[], agent = 'clerk') =>
  fact('model-call.completed', {
    callId,
    agent,
    purpose: 'turn',
    content: '',
    toolCalls,
    attempts: 1,
    usage: { promptTokens: 10, completionTokens: 2 },
  });

describe('RunTrail: what observing a run remembers', () => {
  it('a turn lasts from its first model call to the answer without tool calls; its tool calls and their gates belong to it', () => {
    const trail = new RunTrail('r1');
    const first = started('c1');
    trail.apply(fact('run.started', { workflow: { name: 'desk' }, input: 'x', requestedBy: 'carol' }));
    trail.apply(first);
    trail.apply(completed('c1', [{ id: 't1', name: 'refund', arguments: {} }]));
    const turn = trail.turnOf('clerk');
    assert.equal(turn?.openedBy, first.eventId, 'the turn is still open after a call that asked for a tool');
    trail.apply(
      fact('tool-call.requested', { callId: 't1', agent: 'clerk', tool: 'refund', args: { a: 1 } }),
    );
    trail.apply(
      fact('human-request.opened', {
        requestId: 'q1',
        kind: 'approval',
        subject: { type: 'tool-call', callId: 't1' },
        roles: ['approver'],
        payloadHash: 'h',
      }),
    );
    assert.equal(trail.requests.get('q1')?.turn, turn, 'the gate belongs to the turn');
    assert.equal(trail.toolCalls.get('t1')?.turn, turn);
    trail.apply(fact('human-request.resolved', { requestId: 'q1', outcome: 'approve', deciders: [] }));
    trail.apply(fact('tool-call.started', { callId: 't1', idempotencyKey: 'r1:t1' }));
    assert.ok(trail.toolCalls.get('t1')?.startedAt);
    trail.apply(fact('tool-call.completed', { callId: 't1', result: 1, reconciled: false }));
    trail.apply(started('c2'));
    assert.equal(trail.turnOf('clerk'), turn, 'the second call is in the same turn');
    assert.equal(turn?.calls, 2);
    trail.apply(completed('c2', []));
    assert.equal(trail.turnOf('clerk'), undefined, 'an answer without tool calls ends the turn');
    assert.equal(turn?.inputTokens, 20);
    assert.deepEqual([trail.modelCalls.size, trail.toolCalls.size, trail.requests.size], [0, 0, 0]);
  });
});

describe('redactSecrets', () => {
  it('removes bearer tokens, token query parameters and the configured secrets', () => {
    assert.equal(
      redactSecrets('Authorization: Bearer abcdefgh12345678 sent', []),
      'Authorization: Bearer [redacted] sent',
    );
    assert.equal(
      redactSecrets('/socket.io/?EIO=4&token=xyz123&t=1', []),
      '/socket.io/?EIO=4&token=[redacted]&t=1',
    );
    assert.equal(
      redactSecrets('key s3cret-value-0001 leaked', ['s3cret-value-0001']),
      'key [redacted] leaked',
    );
    assert.equal(
      redactSecrets('send "Authorization: Bearer <token>"', []),
      'send "Authorization: Bearer <token>"',
    );
  });
});
