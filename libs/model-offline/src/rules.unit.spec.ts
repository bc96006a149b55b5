import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { decideReply } from './rules';
import type { ChatMessage, ChatRequest, JsonSchema, Reply, ToolDef } from './types';

const sys = (content: string): ChatMessage => ({ role: 'system', content });
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

function structured<T>(name: string, schema: z.ZodType<T>, messages: ChatMessage[]): T {
  const reply = decideReply({
    model: 'offline',
    messages,
    response_format: {
      type: 'json_schema',
      json_schema: { name, schema: z.toJSONSchema(schema) as JsonSchema, strict: true },
    },
  });
  assert.equal(reply.kind, 'structured');
  return schema.parse(JSON.parse(textOf(reply)));
}

const textOf = (r: Reply): string => {
  assert.notEqual(r.kind, 'tool_calls');
  return r.kind === 'tool_calls' ? '' : r.content;
};

const fn = (name: string, parameters?: JsonSchema): ToolDef => ({
  type: 'function',
  function: { name, parameters: parameters ?? { type: 'object', properties: {} } },
});

const refundTool = fn('process_refund', {
  type: 'object',
  properties: {
    order_id: { type: 'string' },
    amount: { type: 'number' },
    reason: { type: 'string' },
    priority: { type: 'string', enum: ['low', 'high'] },
  },
  required: ['order_id', 'amount', 'reason', 'priority'],
  additionalProperties: false,
});
const transfers = [fn('transfer_to_billing'), fn('transfer_to_technical'), fn('transfer_to_general')];

function toolCall(req: ChatRequest): { name: string; args: Record<string, unknown>; id: string } {
  const r = decideReply(req);
  assert.equal(r.kind, 'tool_calls', `expected a tool call, got ${JSON.stringify(r)}`);
  if (r.kind !== 'tool_calls') throw new Error('unreachable');
  assert.equal(r.toolCalls.length, 1);
  const [c] = r.toolCalls;
  assert.match(c.id, /^call_[0-9a-f]{24}$/);
  return { name: c.name, args: JSON.parse(c.arguments) as Record<string, unknown>, id: c.id };
}

describe('decideReply: structured named rules', () => {
  const verdict = z.object({ verdict: z.enum(['approve', 'revise']), feedback: z.string() });

  it('checker_verdict revises first, approves once a Feedback: round happened', () => {
    assert.deepEqual(
      structured('checker_verdict', verdict, [sys('You are the checker.'), user('Draft: Big news')]),
      {
        verdict: 'revise',
        feedback: 'Add a customer quote and tighten the headline.',
      },
    );
    assert.deepEqual(
      structured('checker_verdict', verdict, [
        sys('You are the checker.'),
        user('Draft v2. Feedback: Add a customer quote and tighten the headline.'),
      ]),
      { verdict: 'approve', feedback: 'Approved.' },
    );
  });

  it('magentic_plan has one step per agent in enum order', () => {
    const plan = z.object({
      facts: z.string(),
      steps: z.array(z.object({ agent: z.enum(['investigator', 'analyst', 'writer']), task: z.string() })),
    });
    const out = structured('magentic_plan', plan, [
      sys('You plan.'),
      user('Find why checkout latency doubled'),
    ]);
    assert.deepEqual(
      out.steps.map((s) => s.agent),
      ['investigator', 'analyst', 'writer'],
    );
    for (const s of out.steps) {
      assert.match(s.task, new RegExp(s.agent));
      assert.match(s.task, /checkout latency doubled/);
    }
  });

  it('progress_ledger asks the first specialist without a report, then is satisfied', () => {
    const ledger = z.object({
      is_request_satisfied: z.boolean(),
      is_progress_being_made: z.boolean(),
      is_in_loop: z.boolean(),
      next_speaker: z.enum(['investigator', 'writer']),
      instruction: z.string(),
      reason: z.string(),
    });
    const base = [sys('You track progress.'), user('Task: explain the outage')];
    const first = structured('progress_ledger', ledger, base);
    assert.equal(first.next_speaker, 'investigator');
    assert.equal(first.is_request_satisfied, false);
    assert.equal(first.is_progress_being_made, true);
    assert.equal(first.is_in_loop, false);
    const second = structured('progress_ledger', ledger, [
      ...base,
      user('[investigator] found a bad deploy'),
    ]);
    assert.equal(second.next_speaker, 'writer');
    const done = structured('progress_ledger', ledger, [
      ...base,
      user('[investigator] found a bad deploy'),
      assistant('[writer] wrote the summary'),
    ]);
    assert.equal(done.is_request_satisfied, true);
    assert.equal(done.next_speaker, 'writer');
  });

  describe('next_speaker', () => {
    const schema = z.object({
      next: z.enum(['optimist', 'human', 'skeptic']),
      terminate: z.boolean(),
      reason: z.string(),
    });
    const ask = (...transcript: string[]): z.infer<typeof schema> =>
      structured('next_speaker', schema, [
        sys('You manage the chat.'),
        user('Topic: remote work'),
        ...transcript.map(user),
      ]);

    it('round-robins after the last speaker, skipping human', () => {
      assert.equal(ask().next, 'optimist');
      assert.equal(ask('[optimist] yes').next, 'skeptic');
      assert.equal(ask('[optimist] yes', '[skeptic] no').next, 'optimist');
    });

    it('gives human a turn after a [moderator] floor message, once', () => {
      assert.equal(ask('[optimist] yes', '[moderator] The human has the floor.').next, 'human');
      assert.equal(
        ask('[optimist] yes', '[moderator] The human has the floor.', '[human] meh').next,
        'skeptic',
      );
    });

    it('also reads a transcript rendered line by line in one message', () => {
      assert.equal(ask('[optimist] yes\n[skeptic] no').next, 'optimist');
    });

    it('terminates after 2 x participants turns', () => {
      const five = ['[optimist] a', '[skeptic] b', '[optimist] c', '[skeptic] d', '[optimist] e'];
      assert.equal(ask(...five).terminate, false);
      assert.equal(ask(...five, '[skeptic] f').terminate, true);
    });
  });

  it('escalation_check escalates on legal threats and manager requests only', () => {
    const schema = z.object({
      escalate: z.boolean(),
      reason: z.string(),
      context: z.string(),
      suggested_action: z.string(),
    });
    const ask = (text: string): boolean =>
      structured('escalation_check', schema, [sys('You screen.'), user(text)]).escalate;
    assert.equal(ask('I will call my lawyer'), true);
    assert.equal(ask('This is a legal matter now'), true);
    assert.equal(ask('I am going to sue you'), true);
    assert.equal(ask('Let me speak to your supervisor'), true);
    assert.equal(ask('Where is my parcel?'), false);
  });

  it('falls back to the generic generator for unknown names', () => {
    const schema = z.object({ headline: z.string(), rating: z.number().min(2).max(9), ok: z.boolean() });
    const out = structured('article', schema, [user('Write about solar panels')]);
    assert.deepEqual(out, { headline: 'Headline: Write about solar panels', rating: 2, ok: false });
  });
});

describe('decideReply: tools', () => {
  it('hands off by keyword to a transfer tool that exists', () => {
    const ask = (text: string): string =>
      toolCall({ model: 'm', messages: [sys('You are the triage agent.'), user(text)], tools: transfers })
        .name;
    assert.equal(ask('I was charged twice on my invoice'), 'transfer_to_billing');
    assert.equal(ask('The app crashes at login'), 'transfer_to_technical');
    assert.equal(ask('What are your opening hours?'), 'transfer_to_general');
  });

  it('does not hand off to a missing tool, after [handoff], or to itself', () => {
    const only = [fn('transfer_to_technical')];
    assert.equal(decideReply({ model: 'm', messages: [user('refund please')], tools: only }).kind, 'text');
    assert.equal(
      decideReply({ model: 'm', messages: [user('[handoff] refund please')], tools: transfers }).kind,
      'text',
    );
    assert.equal(
      decideReply({
        model: 'm',
        messages: [sys('You are the billing specialist.'), user('refund please')],
        tools: transfers,
      }).kind,
      'text',
    );
  });

  it('calls the amount tool with the amount, order id and reason', () => {
    const call = toolCall({
      model: 'm',
      messages: [
        sys('You are the billing specialist.'),
        user('[handoff] Please refund $120 for order #A123, it arrived damaged.'),
      ],
      tools: [fn('transfer_to_general'), refundTool],
    });
    assert.equal(call.name, 'process_refund');
    assert.deepEqual(call.args, {
      order_id: 'A123',
      amount: 120,
      reason: '[handoff] Please refund $120 for order #A123, it arrived damaged.',
      priority: 'low',
    });
    const usd = toolCall({
      model: 'm',
      messages: [user('refund 45.50 USD on order B-77 please')],
      tools: [refundTool],
    });
    assert.equal(usd.args.amount, 45.5);
    assert.equal(usd.args.order_id, 'B-77');
  });

  it('answers as text without an amount, and cites tool results', () => {
    assert.equal(
      decideReply({ model: 'm', messages: [user('I want a refund')], tools: [refundTool] }).kind,
      'text',
    );
    const r = decideReply({
      model: 'm',
      messages: [
        user('refund $5 for order 9'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'process_refund', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"status":"ok"}' },
      ],
      tools: [refundTool],
    });
    assert.equal(textOf(r), 'Done. process_refund returned: {"status":"ok"}');
  });

  it('tool call ids are deterministic per conversation', () => {
    const req: ChatRequest = { model: 'm', messages: [user('refund $1 order 1')], tools: [refundTool] };
    assert.equal(toolCall(req).id, toolCall(req).id);
    assert.notEqual(toolCall(req).id, toolCall({ ...req, messages: [user('refund $2 order 1')] }).id);
  });
});

describe('decideReply: plain text', () => {
  it('names the role and quotes the first 12 words of the last user message', () => {
    const text = textOf(
      decideReply({
        model: 'm',
        messages: [
          sys('You are the editor of a small paper.'),
          user('one two three four five six seven eight nine ten eleven twelve thirteen'),
        ],
      }),
    );
    assert.match(text, /^I am the editor\./);
    assert.match(text, /"one two three four five six seven eight nine ten eleven twelve \.\.\."/);
    assert.doesNotMatch(text, /thirteen/);
  });

  it('ends with TERMINATE when asked and after 4 turns', () => {
    const system = sys('You are the critic. When done, say TERMINATE.');
    const three = [user('go'), assistant('a'), user('[writer] b'), assistant('c')];
    // assistant, [writer], assistant = 3 turns; one more [name] line makes 4.
    assert.doesNotMatch(textOf(decideReply({ model: 'm', messages: [system, ...three] })), /TERMINATE/);
    assert.match(
      textOf(decideReply({ model: 'm', messages: [system, ...three, user('[writer] more')] })),
      / TERMINATE$/,
    );
    assert.doesNotMatch(
      textOf(decideReply({ model: 'm', messages: [sys('You are the critic.'), ...three] })),
      /TERMINATE/,
    );
  });

  it('is deterministic', () => {
    const req: ChatRequest = { model: 'm', messages: [sys('You are a writer.'), user('Hello there')] };
    assert.deepEqual(decideReply(req), decideReply(req));
  });
});
