import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { AgentSchema } from '@parley/contracts';
import { ModelCallError, type ModelCallPlan } from '@parley/engine';
import { startOfflineModelServer, type OfflineModelServer } from '@parley/model-offline';
import { ModelProxy } from '@parley/testing';
import { OpenAiModelGateway } from './openai-gateway';

const agent = AgentSchema.parse({ name: 'billing', system: 'You are the billing specialist.' });

function plan(content: string, extra: Partial<ModelCallPlan> = {}): ModelCallPlan {
  return {
    callId: 'c1',
    agent,
    purpose: 'test',
    messages: [
      { role: 'system', content: agent.system },
      { role: 'user', content },
    ],
    tools: [],
    ...extra,
  };
}

const refundTool = {
  name: 'process_refund',
  description: 'Refund an order',
  parameters: {
    type: 'object',
    properties: { order_id: { type: 'string' }, amount: { type: 'number' }, reason: { type: 'string' } },
    required: ['order_id', 'amount', 'reason'],
    additionalProperties: false,
  },
};

/** A real HTTP server that answers every completion with `body` (server-sent events), then ends or breaks. */
async function sseServer(body: string, end: 'close' | 'destroy'): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(body, () => (end === 'close' ? res.end() : res.socket?.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const urlOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

const firstChunk = `data: ${JSON.stringify({
  id: 'x1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'offline',
  choices: [{ index: 0, delta: { role: 'assistant', content: 'Half an ' }, finish_reason: null }],
})}\n\n`;

describe('OpenAiModelGateway against the offline model (the real openai SDK over HTTP)', () => {
  let model: OfflineModelServer;
  let gateway: OpenAiModelGateway;

  before(async () => {
    model = await startOfflineModelServer();
    gateway = new OpenAiModelGateway({ defaultProvider: { baseURL: model.url, apiKey: 'offline' } });
  });
  after(() => model.close());

  it('streams the tokens of a text answer as they come; they make up the content; usage is kept', async () => {
    const tokens: string[] = [];
    const result = await gateway.complete(plan('Draft a short intro for the spring release notes please'), {
      runId: 'r1',
      onToken: (delta) => tokens.push(delta),
    });
    assert.match(result.content, /^I am the billing specialist\. You wrote: "Draft a short intro/);
    assert.ok(tokens.length > 5, `word-by-word tokens: ${tokens.length}`);
    assert.equal(tokens.join(''), result.content);
    assert.deepEqual(result.toolCalls, []);
    assert.equal(result.attempts, 1);
    assert.ok(result.usage && result.usage.promptTokens > 0 && result.usage.completionTokens > 0);
  });

  it('asks the whole answer, not a stream, when nobody watches the tokens: the same content, tool calls and usage', async () => {
    const proxy = await ModelProxy.start(model.url);
    try {
      const proxied = new OpenAiModelGateway({ defaultProvider: { baseURL: proxy.url, apiKey: 'offline' } });
      const text = plan('Draft a short intro for the spring release notes please');
      const watched = await proxied.complete(text, { runId: 'r1', onToken: () => undefined });
      const unwatched = await proxied.complete(text, { runId: 'r1' });
      const refund = plan('Please refund $120 for order #A123, the parcel never arrived.', {
        tools: [refundTool],
      });
      const toolCall = await proxied.complete(refund, { runId: 'r1' });
      const verdict = z.object({ verdict: z.enum(['approve', 'revise']), notes: z.string() });
      const structured = await proxied.complete(
        plan('Review the draft', { structured: { name: 'verdict', schema: verdict } }),
        { runId: 'r1', onToken: () => undefined },
      );
      assert.deepEqual(
        proxy.calls.map((c) => c.body.stream === true),
        [true, false, false, false],
        'streamed only for a watched text answer (a structured one shows no tokens)',
      );
      assert.equal(unwatched.content, watched.content);
      assert.deepEqual(unwatched.usage, watched.usage);
      assert.equal(toolCall.toolCalls[0].name, 'process_refund');
      assert.deepEqual(toolCall.toolCalls[0].arguments, {
        order_id: 'A123',
        amount: 120,
        reason: 'Please refund $120 for order #A123, the parcel never arrived.',
      });
      assert.deepEqual(structured.structured, verdict.parse(JSON.parse(structured.content)));
    } finally {
      await proxy.close();
    }
  });

  it('pieces a tool call together: id, name and parsed arguments; no tokens', async () => {
    const tokens: string[] = [];
    const result = await gateway.complete(
      plan('Please refund $120 for order #A123, the parcel never arrived.', { tools: [refundTool] }),
      { runId: 'r1', onToken: (delta) => tokens.push(delta) },
    );
    assert.equal(result.toolCalls.length, 1);
    const [call] = result.toolCalls;
    assert.match(call.id, /^call_/);
    assert.equal(call.name, 'process_refund');
    assert.deepEqual(call.arguments, {
      order_id: 'A123',
      amount: 120,
      reason: 'Please refund $120 for order #A123, the parcel never arrived.',
    });
    assert.deepEqual(tokens, []);
  });

  it('validates a structured output with its zod schema, and streams no tokens of it', async () => {
    const Verdict = z.object({ verdict: z.enum(['approve', 'revise']), notes: z.string() });
    const tokens: string[] = [];
    const result = await gateway.complete(
      plan('Review the draft', { structured: { name: 'verdict', schema: Verdict } }),
      { runId: 'r1', onToken: (delta) => tokens.push(delta) },
    );
    assert.deepEqual(result.structured, Verdict.parse(JSON.parse(result.content)));
    assert.deepEqual(tokens, []);
  });

  it('a stream that breaks, or ends before its finish_reason, is MODEL_UNAVAILABLE, not a short answer', async () => {
    for (const end of ['destroy', 'close'] as const) {
      const server = await sseServer(firstChunk, end);
      try {
        const broken = new OpenAiModelGateway({
          defaultProvider: { baseURL: urlOf(server), apiKey: 'x' },
          maxRetries: 0,
        });
        const tokens: string[] = [];
        await assert.rejects(
          broken.complete(plan('hello'), { runId: 'r1', onToken: (delta) => tokens.push(delta) }),
          (error: unknown) => {
            assert.ok(error instanceof ModelCallError, String(error));
            assert.equal(error.code, 'MODEL_UNAVAILABLE');
            assert.match(error.message, /^billing: the stream broke: /);
            return true;
          },
          end,
        );
        assert.deepEqual(tokens, ['Half an '], 'the tokens before the break were live');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });
});
