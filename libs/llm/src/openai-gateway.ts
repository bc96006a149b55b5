import type OpenAI from 'openai';
import type { Stream } from 'openai/streaming';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { z } from 'zod';
import { modelToolName, type Provider } from '@parley/contracts';
import type { ChatMessage, ModelCallPlan } from '@parley/engine';
import { ModelCallError, type ModelCallContext, type ModelGateway, type ModelResult } from '@parley/engine';
import { modelCallErrorOf, openAiSdk } from './model-errors';

export interface OpenAiGatewayOptions {
  /** Used when neither the agent nor the workflow names a provider. */
  defaultProvider: { baseURL: string; apiKey: string };
  /** Tries for a structured output that does not validate. */
  structuredAttempts?: number;
  /**
   * SDK-level retries, 0 by default: the engine retries transient errors itself, within the
   * workflow's `retries:`, and records each attempt (the SDK's would be invisible and unbounded by it).
   */
  maxRetries?: number;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Chat completions through the official `openai` SDK, streamed when someone watches the tokens live
 * (`ctx.onToken`), asked whole otherwise.
 * Structured outputs use `response_format: json_schema` and are validated with zod; an invalid one
 * is asked for again a bounded number of times.
 */
export class OpenAiModelGateway implements ModelGateway {
  private readonly clients = new Map<string, OpenAI>();

  constructor(private readonly options: OpenAiGatewayOptions) {}

  async complete(plan: ModelCallPlan, ctx: ModelCallContext): Promise<ModelResult> {
    const client = this.clientFor(plan.agent.provider);
    const attempts = plan.structured ? (this.options.structuredAttempts ?? 3) : 1;
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const answer = await this.once(client, plan, ctx);
      if (!plan.structured) return { ...answer, attempts: attempt };
      const parsed = parseStructured(plan.structured.schema, answer.content);
      if (parsed.ok) return { ...answer, structured: parsed.value, attempts: attempt };
      lastProblem = parsed.problem;
    }
    throw new ModelCallError(
      'MODEL_OUTPUT_INVALID',
      `${plan.agent.name} gave no valid ${plan.structured?.name} after ${attempts} attempts: ${lastProblem}`,
      attempts,
    );
  }

  private async once(
    client: OpenAI,
    plan: ModelCallPlan,
    ctx: ModelCallContext,
  ): Promise<Omit<ModelResult, 'attempts'>> {
    // Tools are offered under names every provider accepts (`fs.read_file` → `fs__read_file`); the
    // calls the model answers with are named back, so the log and the policies see the tool's own name.
    const ownNames = new Map(plan.tools.map((t) => [modelToolName(t.name), t.name]));
    const tools: ChatCompletionTool[] = plan.tools.map((t) => ({
      type: 'function',
      function: { name: modelToolName(t.name), description: t.description, parameters: t.parameters },
    }));
    const request = {
      model: plan.agent.model,
      messages: plan.messages.map(toOpenAi),
      ...(tools.length ? { tools } : {}),
      ...(plan.agent.temperature !== undefined ? { temperature: plan.agent.temperature } : {}),
      ...(plan.structured
        ? {
            response_format: {
              type: 'json_schema' as const,
              json_schema: {
                name: plan.structured.name,
                schema: z.toJSONSchema(plan.structured.schema) as Record<string, unknown>,
                strict: true,
              },
            },
          }
        : {}),
    };
    // Streamed only when someone watches the tokens (a structured answer's are never shown): a
    // stream costs the client about twice the CPU of the same answer at once (a parse per chunk).
    const onToken = plan.structured ? undefined : ctx.onToken;
    if (!onToken) {
      let completion: ChatCompletion;
      try {
        completion = await client.chat.completions.create({ ...request, stream: false });
      } catch (error) {
        throw modelCallErrorOf(plan.agent.name, error);
      }
      const answer = answerOf(completion);
      for (const call of answer.toolCalls) call.name = ownNames.get(call.name) ?? call.name;
      return answer;
    }
    let stream;
    try {
      stream = await client.chat.completions.create({
        ...request,
        stream: true,
        stream_options: { include_usage: true },
      });
    } catch (error) {
      throw modelCallErrorOf(plan.agent.name, error);
    }
    try {
      const answer = await accumulate(stream, onToken);
      for (const call of answer.toolCalls) call.name = ownNames.get(call.name) ?? call.name;
      return answer;
    } catch (error) {
      throw modelCallErrorOf(plan.agent.name, error, 'the stream broke: ');
    }
  }

  private clientFor(provider: Provider | undefined): OpenAI {
    const env = this.options.env ?? process.env;
    const baseURL = provider?.baseURL ?? this.options.defaultProvider.baseURL;
    let apiKey = this.options.defaultProvider.apiKey;
    if (provider?.apiKeyEnv) {
      const value = env[provider.apiKeyEnv];
      if (!value)
        throw new ModelCallError(
          'MODEL_MISCONFIGURED',
          `the environment variable ${provider.apiKeyEnv} (the provider's API key) is not set`,
          1,
        );
      apiKey = value;
    }
    const key = `${baseURL} ${apiKey}`;
    let client = this.clients.get(key);
    if (!client) {
      const { OpenAI: Client } = openAiSdk();
      client = new Client({
        baseURL,
        apiKey,
        maxRetries: this.options.maxRetries ?? 0,
        timeout: this.options.timeoutMs ?? 120_000,
      });
      this.clients.set(key, client);
    }
    return client;
  }
}

/**
 * The answer of a streamed completion, accumulated by the SDK's own ChatCompletionStream (content,
 * tool calls pieced together by index, usage); `onToken` gets each content delta as it arrives. A
 * stream that ends before its finish_reason is an error here, not a truncated answer.
 */
async function accumulate(
  stream: Stream<ChatCompletionChunk>,
  onToken: ((delta: string) => void) | undefined,
): Promise<Omit<ModelResult, 'attempts'>> {
  const runner = openAiSdk().ChatCompletionStream.fromReadableStream(stream.toReadableStream());
  if (onToken) runner.on('content', (delta) => onToken(delta));
  return answerOf(await runner.finalChatCompletion());
}

/** The answer of a completion (whole, or accumulated from a stream). */
function answerOf(completion: ChatCompletion): Omit<ModelResult, 'attempts'> {
  const message = completion.choices[0]?.message;
  return {
    content: message?.content ?? '',
    toolCalls: (message?.tool_calls ?? [])
      .filter((call) => call.type === 'function')
      .map((call) => ({
        id: call.id,
        name: call.function.name,
        arguments: parseArgs(call.function.arguments),
      })),
    usage: completion.usage && {
      promptTokens: completion.usage.prompt_tokens,
      completionTokens: completion.usage.completion_tokens,
    },
  };
}

/** A step's chat message in the OpenAI wire shape (the offline model reads the same shape). */
export function toOpenAi(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: m.content };
    case 'tool':
      return { role: 'tool', content: m.content, tool_call_id: m.toolCallId ?? '' };
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content || null,
        ...(m.toolCalls?.length
          ? {
              tool_calls: m.toolCalls.map((tc) => ({
                id: tc.id,
                type: 'function' as const,
                function: { name: modelToolName(tc.name), arguments: JSON.stringify(tc.arguments ?? {}) },
              })),
            }
          : {}),
      };
  }
}

function parseArgs(text: string): unknown {
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    return { _unparsed: text };
  }
}

function parseStructured(
  schema: z.ZodType,
  content: string,
): { ok: true; value: unknown } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return { ok: false, problem: 'the answer is not JSON' };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return { ok: false, problem: `${issue.path.join('.') || '(root)'}: ${issue.message}` };
}
