/** Builds OpenAI-shaped `chat.completion` bodies and usage from a Reply. */
import type { ChatRequest, Reply } from './types';
import { countWords, deterministicId, messageText } from './text';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export const SYSTEM_FINGERPRINT = 'fp_offline';

export function completionMeta(req: ChatRequest, created: number): CompletionMeta {
  return { id: `chatcmpl-${deterministicId(JSON.stringify(req.messages), 24)}`, created, model: req.model };
}

/** Token counts approximated by whitespace-separated word counts. */
export function usageFor(req: ChatRequest, reply: Reply): Usage {
  const prompt = req.messages.reduce(
    (n, m) =>
      n +
      countWords(messageText(m)) +
      (m.tool_calls ?? []).reduce((k, c) => k + countWords(c.function.arguments), 0),
    0,
  );
  const completion =
    reply.kind === 'tool_calls'
      ? reply.toolCalls.reduce((n, c) => n + 1 + countWords(c.arguments), 0)
      : countWords(reply.content);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export const finishReason = (reply: Reply): 'stop' | 'tool_calls' =>
  reply.kind === 'tool_calls' ? 'tool_calls' : 'stop';

export function completionBody(meta: CompletionMeta, reply: Reply, usage: Usage): Record<string, unknown> {
  const message =
    reply.kind === 'tool_calls'
      ? {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: reply.toolCalls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: c.arguments },
          })),
        }
      : { role: 'assistant', content: reply.content, refusal: null, annotations: [] };
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(reply) }],
    usage,
  };
}
