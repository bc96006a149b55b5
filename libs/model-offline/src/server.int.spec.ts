import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { z } from 'zod';
import { type OfflineModelServer, startOfflineModelServer } from './index';

const refundTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'process_refund',
    description: 'Refund an order',
    parameters: {
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'number' }, reason: { type: 'string' } },
      required: ['order_id', 'amount', 'reason'],
      additionalProperties: false,
    },
  },
};
const refundMessages: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are the billing specialist.' },
  { role: 'user', content: 'Please refund $120 for order #A123, the parcel never arrived.' },
];
const greeting: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are the editor of the newsletter.' },
  { role: 'user', content: 'Draft a short intro for the spring release notes please' },
];

/** Re-assembles streamed chunks the way a caller would. */
function assemble(chunks: ChatCompletionChunk[]): {
  content: string;
  calls: { id: string; name: string; arguments: string }[];
  finish: string | null;
} {
  let content = '';
  let finish: string | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const c of chunks) {
    for (const choice of c.choices) {
      content += choice.delta.content ?? '';
      for (const t of choice.delta.tool_calls ?? []) {
        calls[t.index] ??= { id: '', name: '', arguments: '' };
        if (t.id) calls[t.index].id = t.id;
        if (t.function?.name) calls[t.index].name += t.function.name;
        if (t.function?.arguments) calls[t.index].arguments += t.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { content, calls, finish };
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('offline model server (openai SDK over HTTP)', () => {
  let server: OfflineModelServer;
  let client: OpenAI;

  before(async () => {
    server = await startOfflineModelServer();
    client = new OpenAI({ baseURL: server.url, apiKey: 'any-key', maxRetries: 0 });
  });
  after(() => server.close());

  it('answers a plain completion', async () => {
    const res = await client.chat.completions.create({ model: 'offline', messages: greeting });
    const msg = res.choices[0].message;
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.match(msg.content ?? '', /^I am the editor\. You wrote: "Draft a short intro/);
    assert.ok(
      res.usage &&
        res.usage.completion_tokens > 0 &&
        res.usage.total_tokens === res.usage.prompt_tokens + res.usage.completion_tokens,
    );
  });

  it('streams content deltas that re-assemble to the non-streamed answer, with usage', async () => {
    const plain = await client.chat.completions.create({ model: 'offline', messages: greeting });
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'offline',
        messages: greeting,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const { content, finish } = assemble(chunks);
    assert.equal(content, plain.choices[0].message.content);
    assert.equal(finish, 'stop');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id));
    assert.ok(chunks.filter((c) => c.choices[0]?.delta.content).length > 5, 'word-by-word deltas');
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, plain.usage);
  });

  it('streams tool calls that re-assemble (by hand and with the SDK stream helper)', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'offline',
        messages: refundMessages,
        tools: [refundTool],
        stream: true,
      }),
    );
    const { calls, finish } = assemble(chunks);
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'process_refund');
    assert.match(calls[0].id, /^call_/);
    assert.deepEqual(JSON.parse(calls[0].arguments), {
      order_id: 'A123',
      amount: 120,
      reason: 'Please refund $120 for order #A123, the parcel never arrived.',
    });
    assert.ok(chunks.filter((c) => c.choices[0]?.delta.tool_calls).length > 2, 'arguments arrive in pieces');

    const final = await client.chat.completions
      .stream({ model: 'offline', messages: refundMessages, tools: [refundTool] })
      .finalChatCompletion();
    assert.deepEqual(final.choices[0].message.tool_calls?.[0], {
      id: calls[0].id,
      type: 'function',
      function: { name: calls[0].name, arguments: calls[0].arguments },
    });
  });

  it('completes a tool call round trip', async () => {
    const first = await client.chat.completions.create({
      model: 'offline',
      messages: refundMessages,
      tools: [refundTool],
    });
    const call = first.choices[0].message.tool_calls?.[0];
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.ok(call && call.type === 'function');
    const args = JSON.parse(call.function.arguments) as { amount: number; order_id: string };
    const result = JSON.stringify({ refunded: args.amount, order: args.order_id, status: 'ok' });
    const second = await client.chat.completions.create({
      model: 'offline',
      tools: [refundTool],
      messages: [
        ...refundMessages,
        first.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: result },
      ],
    });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.choices[0].message.content, `Done. process_refund returned: ${result}`);
  });

  it('returns structured output that parses with a zod schema', async () => {
    const Verdict = z.object({ verdict: z.enum(['approve', 'revise']), feedback: z.string() });
    const first = await client.chat.completions.parse({
      model: 'offline',
      messages: [
        { role: 'system', content: 'You are the checker.' },
        { role: 'user', content: 'Headline: We shipped it' },
      ],
      response_format: zodResponseFormat(Verdict, 'checker_verdict'),
    });
    assert.deepEqual(first.choices[0].message.parsed, {
      verdict: 'revise',
      feedback: 'Add a customer quote and tighten the headline.',
    });

    const Report = z.object({
      title: z.string(),
      risk: z.number().int().min(1).max(5),
      owners: z.array(z.string()).min(2),
      urgent: z.boolean().nullable(),
    });
    const generic = await client.chat.completions.parse({
      model: 'offline',
      messages: [{ role: 'user', content: 'Summarize the incident' }],
      response_format: zodResponseFormat(Report, 'incident_report'),
    });
    const parsed = Report.parse(generic.choices[0].message.parsed);
    assert.equal(parsed.owners.length, 2);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('offline'));
  });

  it('injects HTTP 500s and broken structured output', async () => {
    server.injectFaults({ httpErrors: 1 });
    await assert.rejects(
      client.chat.completions.create({ model: 'offline', messages: greeting }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.status, 500);
        return true;
      },
    );
    assert.equal(
      (await client.chat.completions.create({ model: 'offline', messages: greeting })).choices[0]
        .finish_reason,
      'stop',
    );

    // The SDK's own retries absorb faults: 1 retry, 1 fault -> success after 2 requests.
    const retrying = new OpenAI({ baseURL: server.url, apiKey: 'x', maxRetries: 1 });
    server.resetStats();
    server.injectFaults({ httpErrors: 1 });
    await retrying.chat.completions.create({ model: 'offline', messages: greeting });
    assert.deepEqual([server.stats().requests, server.stats().completions], [2, 1]);

    const schema = zodResponseFormat(z.object({ ok: z.boolean() }), 'anything');
    server.injectFaults({ invalidStructuredOutputs: 1 });
    const broken = await client.chat.completions.create({
      model: 'offline',
      messages: greeting,
      response_format: schema,
    });
    assert.equal(broken.choices[0].message.content, '{"not": "valid"');
    const fixed = await client.chat.completions.create({
      model: 'offline',
      messages: greeting,
      response_format: schema,
    });
    assert.deepEqual(JSON.parse(fixed.choices[0].message.content ?? ''), { ok: false });
  });

  it('counts requests, completions per model and tool calls', async () => {
    server.resetStats();
    await client.chat.completions.create({ model: 'gpt-a', messages: greeting });
    await collect(
      await client.chat.completions.create({
        model: 'gpt-b',
        messages: refundMessages,
        tools: [refundTool],
        stream: true,
      }),
    );
    await client.chat.completions.create({ model: 'gpt-b', messages: refundMessages, tools: [refundTool] });
    await client.models.list();
    assert.deepEqual(server.stats(), {
      requests: 4,
      completions: 3,
      byModel: { 'gpt-a': 1, 'gpt-b': 2 },
      toolCallsEmitted: 2,
    });
  });

  it('serves the admin surface and OpenAI-shaped errors over plain HTTP', async () => {
    const base = server.url.replace(/\/v1$/, '');
    const faults = await fetch(`${base}/faults`, { method: 'POST', body: JSON.stringify({ httpErrors: 2 }) });
    assert.deepEqual(await faults.json(), { invalidStructuredOutputs: 0, httpErrors: 2 });
    server.injectFaults({ httpErrors: 0 });
    const stats = (await (await fetch(`${base}/stats`)).json()) as { requests: number };
    assert.equal(typeof stats.requests, 'number');

    const missing = await fetch(`${server.url}/nope`);
    assert.equal(missing.status, 404);
    const body = (await missing.json()) as { error: { message: string; type: string; code: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(typeof body.error.message, 'string');

    const malformed = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: '{"model": ' });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'invalid_json');
    await assert.rejects(
      client.chat.completions.create({ model: 'offline', messages: [] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError,
    );
  });
});

describe('offline model server token latency', () => {
  const latencyMs = 15;
  let server: OfflineModelServer;
  let client: OpenAI;

  before(async () => {
    server = await startOfflineModelServer({ tokenLatencyMs: latencyMs });
    client = new OpenAI({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
  });
  after(() => server.close());

  it('paces streamed tokens, and a whole reply takes as long as its stream', async () => {
    let t0 = performance.now();
    const chunks = await collect(
      await client.chat.completions.create({ model: 'offline', messages: greeting, stream: true }),
    );
    const streamedMs = performance.now() - t0;
    const tokens = chunks.filter((c) => c.choices[0]?.delta.content).length;
    assert.ok(tokens >= 10);
    // Timers may fire up to ~1ms early relative to performance.now() rounding.
    assert.ok(streamedMs >= tokens * (latencyMs - 1), `${tokens} tokens took ${streamedMs}ms`);

    // a model takes as long to write an answer whether it is streamed or not (the gateway asks a
    // run nobody watches for the whole answer: it must not run faster for it)
    t0 = performance.now();
    await client.chat.completions.create({ model: 'offline', messages: greeting });
    const wholeMs = performance.now() - t0;
    assert.ok(wholeMs >= tokens * (latencyMs - 1), `a whole reply of ${tokens} tokens took ${wholeMs}ms`);
  });
});
