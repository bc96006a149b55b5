import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AGUIEvent } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';
import type { RunEvent } from '@parley/contracts';
import type { RunState } from '@parley/engine';
import { AgUiTranslator } from './ag-ui-translator';

/** A Parley event as the translator reads it (type, seq, data). */
const event = (seq: number, type: string, data: Record<string, unknown>): RunEvent =>
  ({ seq, type, data }) as unknown as RunEvent;
const state = {} as RunState;

function translator(liveAfterSeq: number): { t: AgUiTranslator; out: AGUIEvent[] } {
  const out: AGUIEvent[] = [];
  return { t: new AgUiTranslator((e) => out.push(EventSchemas.parse(e) as AGUIEvent), liveAfterSeq), out };
}
const text = (out: AGUIEvent[], messageId: string): string =>
  out
    .filter((e) => e.type === 'TEXT_MESSAGE_CONTENT' && e.messageId === messageId)
    .map((e) => (e as { delta: string }).delta)
    .join('');

describe('AgUiTranslator', () => {
  it('streams the tokens of a call that began after it listened, then sends what they did not bring', () => {
    const { t, out } = translator(1);
    t.token('a', 'Hel'); // before its model-call.started reached this stream: kept
    t.event(event(2, 'model-call.started', { callId: 'c1', agent: 'a', purpose: 'turn', model: 'm' }), state);
    t.token('a', 'lo ');
    t.event(
      event(3, 'model-call.completed', {
        callId: 'c1',
        agent: 'a',
        purpose: 'turn',
        content: 'Hello world',
        toolCalls: [],
      }),
      state,
    );
    assert.deepEqual(
      out.map((e) => e.type),
      [
        'TEXT_MESSAGE_START',
        'TEXT_MESSAGE_CONTENT',
        'TEXT_MESSAGE_CONTENT',
        'TEXT_MESSAGE_CONTENT',
        'TEXT_MESSAGE_END',
      ],
    );
    assert.equal(text(out, 'c1'), 'Hello world');
    // tokens of that call arriving late (relayed from another instance) are not taken for the next call
    t.token('a', 'wor');
    t.token('a', 'ld');
    t.event(event(4, 'model-call.started', { callId: 'c2', agent: 'a', purpose: 'turn', model: 'm' }), state);
    t.token('a', 'Bye');
    t.event(
      event(5, 'model-call.completed', {
        callId: 'c2',
        agent: 'a',
        purpose: 'turn',
        content: 'Bye',
        toolCalls: [],
      }),
      state,
    );
    assert.equal(text(out, 'c2'), 'Bye');
  });

  it('sends a call from before it listened whole, and its tokens not at all', () => {
    const { t, out } = translator(5);
    t.event(event(2, 'model-call.started', { callId: 'c1', agent: 'a', purpose: 'turn', model: 'm' }), state);
    t.token('a', 'Hel');
    t.event(
      event(6, 'model-call.completed', {
        callId: 'c1',
        agent: 'a',
        purpose: 'turn',
        content: 'Hello',
        toolCalls: [],
      }),
      state,
    );
    assert.deepEqual(
      out.map((e) => e.type),
      ['TEXT_MESSAGE_START', 'TEXT_MESSAGE_CONTENT', 'TEXT_MESSAGE_END'],
    );
    assert.equal(text(out, 'c1'), 'Hello');
  });

  it("a tool call is START/ARGS/END under its agent's last message, its result a TOOL_CALL_RESULT", () => {
    const { t, out } = translator(0);
    t.event(
      event(1, 'model-call.completed', {
        callId: 'm1',
        agent: 'a',
        purpose: 'turn',
        content: 'On it',
        toolCalls: [],
      }),
      state,
    );
    t.event(
      event(2, 'tool-call.requested', {
        callId: 't1',
        agent: 'a',
        tool: 'refund',
        args: { amount: 5 },
        argsHash: 'h',
        idempotencyKey: 'k',
      }),
      state,
    );
    t.event(
      event(3, 'tool-call.completed', { callId: 't1', result: { ok: true }, reconciled: false }),
      state,
    );
    t.event(event(4, 'tool-call.rejected', { callId: 't2', reason: 'no' }), state);
    const calls = out.filter((e) => e.type.startsWith('TOOL_CALL'));
    assert.deepEqual(calls, [
      { type: 'TOOL_CALL_START', toolCallId: 't1', toolCallName: 'refund', parentMessageId: 'm1' },
      { type: 'TOOL_CALL_ARGS', toolCallId: 't1', delta: '{"amount":5}' },
      { type: 'TOOL_CALL_END', toolCallId: 't1' },
      {
        type: 'TOOL_CALL_RESULT',
        messageId: 't1:result',
        toolCallId: 't1',
        content: '{"ok":true}',
        role: 'tool',
      },
      {
        type: 'TOOL_CALL_RESULT',
        messageId: 't2:result',
        toolCallId: 't2',
        content: '{"rejected":"no"}',
        role: 'tool',
      },
    ]);
  });
});
