/** Server-sent-events streaming of a Reply as OpenAI `chat.completion.chunk`s. */
import type { ServerResponse } from 'node:http';
import { type CompletionMeta, finishReason, SYSTEM_FINGERPRINT, type Usage } from './completion';
import type { Reply } from './types';

export interface StreamOptions {
  includeUsage: boolean;
  /** Delay before each streamed token (content word or tool-argument piece). */
  tokenLatencyMs: number;
}

/** Content split into word tokens; joining them gives back the content exactly. */
export function wordTokens(content: string): string[] {
  const tokens: string[] = content.match(/\S+\s*/g) ?? [];
  const lead = /^\s*/.exec(content)?.[0] ?? '';
  if (lead && tokens.length) tokens[0] = lead + tokens[0];
  else if (lead) tokens.push(lead);
  return tokens;
}

/** Tool-call arguments are streamed in pieces of at most this many characters. */
const ARG_PIECE = 16;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How many paced tokens a streamed reply has: what it costs in token latency, streamed or whole. */
export function pacedTokens(reply: Reply): number {
  if (reply.kind === 'tool_calls')
    return reply.toolCalls.reduce((n, call) => n + Math.ceil(call.arguments.length / ARG_PIECE), 0);
  return wordTokens(reply.content).length;
}

export async function streamReply(
  res: ServerResponse,
  meta: CompletionMeta,
  reply: Reply,
  usage: Usage,
  opts: StreamOptions,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  const alive = (): boolean => !res.destroyed && !res.writableEnded;
  const send = (data: unknown): void => {
    if (alive()) res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(opts.includeUsage ? { usage: null } : {}),
  });
  const pace = async (): Promise<void> => {
    if (opts.tokenLatencyMs > 0) await sleep(opts.tokenLatencyMs);
  };

  if (reply.kind === 'tool_calls') {
    send(chunk({ role: 'assistant', content: null, refusal: null }));
    for (const [index, call] of reply.toolCalls.entries()) {
      send(
        chunk({
          tool_calls: [
            { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
          ],
        }),
      );
      for (let i = 0; i < call.arguments.length && alive(); i += ARG_PIECE) {
        await pace();
        send(
          chunk({ tool_calls: [{ index, function: { arguments: call.arguments.slice(i, i + ARG_PIECE) } }] }),
        );
      }
    }
  } else {
    send(chunk({ role: 'assistant', content: '', refusal: null }));
    for (const token of wordTokens(reply.content)) {
      if (!alive()) break;
      await pace();
      send(chunk({ content: token }));
    }
  }
  send(chunk({}, finishReason(reply)));
  if (opts.includeUsage) {
    send({
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [],
      usage,
    });
  }
  if (alive()) res.end('data: [DONE]\n\n');
}
