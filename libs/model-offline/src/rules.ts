/** The pure rule engine: ChatRequest -> Reply. Deterministic (no clock, no randomness). */
import { injectedInstructions } from './injection-rules';
import { structuredAnswer } from './structured-rules';
import { fillArguments, planToolCall } from './tool-rules';
import type { ChatMessage, ChatRequest, Reply } from './types';
import {
  collapse,
  deterministicId,
  firstWords,
  lastNonSystem,
  lastUserMessage,
  messageText,
  roleName,
  systemPrompt,
  transcriptTurns,
} from './text';

export function decideReply(req: ChatRequest): Reply {
  const messages = req.messages ?? [];
  const rf = req.response_format;

  // 1. Structured output.
  if (rf && rf.type === 'json_schema' && rf.json_schema) {
    const name = rf.json_schema.name ?? '';
    return {
      kind: 'structured',
      rule: `structured:${name}`,
      content: structuredAnswer(name, rf.json_schema.schema, messages),
    };
  }
  if (rf && rf.type === 'json_object') {
    return {
      kind: 'structured',
      rule: 'structured:json_object',
      content: JSON.stringify({ reply: plainText(messages) }),
    };
  }

  const last = lastNonSystem(messages);

  // 2. Injected instructions in what the model was just given (see injection-rules.ts).
  const injected = injectedInstructions(messages);
  if (injected?.kind === 'text') return { kind: 'text', rule: 'text:injected', content: injected.content };
  if (injected?.kind === 'calls' && req.tools && req.tools.length > 0) {
    return {
      kind: 'tool_calls',
      rule: 'tool:injected',
      toolCalls: injected.calls.map((c, i) => ({
        id: `call_${deterministicId(`${JSON.stringify(messages)}|${i}|${c.name}`)}`,
        name: c.name,
        arguments: JSON.stringify(c.args),
      })),
    };
  }

  // 3. After tool results.
  if (last?.role === 'tool') return { kind: 'text', rule: 'tool-result', content: toolResultText(messages) };

  // 4. Tools offered, user spoke last.
  if (last?.role === 'user' && req.tools && req.tools.length > 0) {
    const planned = planToolCall(messages, req.tools, req.tool_choice);
    if (planned) {
      const args = fillArguments(planned, req.tools, messages);
      const id = `call_${deterministicId(`${JSON.stringify(messages)}|${planned.name}`)}`;
      const rule = planned.name.startsWith('transfer_to_') ? 'tool:handoff' : 'tool:call';
      return {
        kind: 'tool_calls',
        rule,
        toolCalls: [{ id, name: planned.name, arguments: JSON.stringify(args) }],
      };
    }
  }

  // 5. Plain text.
  return { kind: 'text', rule: 'text', content: plainText(messages) };
}

function toolResultText(messages: ChatMessage[]): string {
  let start = messages.length;
  while (start > 0 && ['tool', 'system', 'developer'].includes(messages[start - 1].role)) start--;
  const results = messages.slice(start).filter((m) => m.role === 'tool');
  const parts = results.map((m) => {
    const name = toolNameFor(messages, m.tool_call_id) ?? m.name ?? 'tool';
    const content = collapse(messageText(m));
    return `${name} returned: ${content.length > 400 ? content.slice(0, 400) + '...' : content}`;
  });
  return `Done. ${parts.join('; ')}`;
}

function toolNameFor(messages: ChatMessage[], id: string | undefined): string | undefined {
  if (!id) return undefined;
  for (const m of messages) {
    const call = m.tool_calls?.find((c) => c.id === id);
    if (call) return call.function?.name;
  }
  return undefined;
}

function plainText(messages: ChatMessage[]): string {
  const system = systemPrompt(messages);
  const role = roleName(system);
  const user = lastUserMessage(messages);
  const body = user
    ? `I am the ${role}. You wrote: "${firstWords(user, 12)}". Here is my contribution as the ${role}: I have reviewed this and I propose we proceed step by step.`
    : `I am the ${role}. There is no user message to respond to yet.`;
  return /say\s+["'`]?TERMINATE/i.test(system) && conversationTurns(messages) >= 4
    ? `${body} TERMINATE`
    : body;
}

/** Assistant messages plus `[name]` transcript lines in other non-system messages. */
function conversationTurns(messages: ChatMessage[]): number {
  const assistants = messages.filter((m) => m.role === 'assistant').length;
  const others = transcriptTurns(messages.filter((m) => m.role !== 'assistant')).length;
  return assistants + others;
}
