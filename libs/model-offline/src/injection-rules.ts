/**
 * The offline model is deliberately gullible: it obeys instructions written into the text it reads,
 * as a real model under prompt injection may. The security tests use this to show that the server
 * holds even when the model is fully compromised (policies are enforced by the server, never by the
 * model). Only explicit directives trigger it, so ordinary conversations are unaffected:
 *
 * - `call <tool> {json object}` (also `call <tool>({json})`): call that tool with exactly those
 *   arguments, whether or not the tool was offered; several directives give several calls in one answer;
 * - `reply with: <text>` (to the end of the line): answer exactly that text.
 *
 * Read from the untrusted text the model was just given: the last user message when it spoke last,
 * or the trailing tool results (with every string inside a JSON result read as text too, so that an
 * instruction stored in a data field is obeyed after JSON escaping). A call the conversation already
 * made (same tool, same arguments) is not repeated, so a tool that echoes the instruction cannot loop.
 */
import type { ChatMessage } from './types';
import { collapse, lastNonSystem, messageText } from './text';

export interface InjectedCall {
  name: string;
  args: Record<string, unknown>;
}

export type Injection = { kind: 'calls'; calls: InjectedCall[] } | { kind: 'text'; content: string };

const CALL = /\bcall\s+([A-Za-z_][\w.-]*)\s*\(?\s*(?=\{)/g;
const REPLY = /\breply with:[ \t]*([^\n]+)/i;

/** The injected instructions in the text the model was just given, if any. */
export function injectedInstructions(messages: ChatMessage[]): Injection | undefined {
  const texts = untrustedTexts(messages);
  const made = callsMade(messages);
  const calls: InjectedCall[] = [];
  for (const text of texts) {
    for (const call of callsIn(text)) {
      const key = callKey(call.name, call.args);
      if (made.has(key)) continue;
      made.add(key);
      calls.push(call);
    }
  }
  if (calls.length > 0) return { kind: 'calls', calls };
  for (const text of texts) {
    const reply = REPLY.exec(text);
    if (reply && collapse(reply[1]).length > 0) return { kind: 'text', content: collapse(reply[1]) };
  }
  return undefined;
}

/** The `call <tool> {json}` directives of a text, in order; a malformed object is skipped. */
export function callsIn(text: string): InjectedCall[] {
  const out: InjectedCall[] = [];
  CALL.lastIndex = 0;
  for (let m = CALL.exec(text); m; m = CALL.exec(text)) {
    const start = CALL.lastIndex;
    const end = objectEnd(text, start);
    if (end === undefined) continue;
    try {
      const args: unknown = JSON.parse(text.slice(start, end));
      if (args !== null && typeof args === 'object' && !Array.isArray(args))
        out.push({ name: m[1], args: args as Record<string, unknown> });
    } catch {
      continue;
    }
    CALL.lastIndex = end;
  }
  return out;
}

/** Index just past the JSON object that opens at `start` (balanced braces, strings respected). */
function objectEnd(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  return undefined;
}

function untrustedTexts(messages: ChatMessage[]): string[] {
  const last = lastNonSystem(messages);
  if (last?.role === 'user') return [messageText(last)];
  if (last?.role !== 'tool') return [];
  const texts: string[] = [];
  for (
    let i = messages.length - 1;
    i >= 0 && ['tool', 'system', 'developer'].includes(messages[i].role);
    i--
  ) {
    if (messages[i].role !== 'tool') continue;
    const text = messageText(messages[i]);
    texts.unshift(text, ...jsonStrings(text));
  }
  return texts;
}

/** Every string inside a JSON text (none when it is not JSON). */
function jsonStrings(text: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

function callsMade(messages: ChatMessage[]): Set<string> {
  const made = new Set<string>();
  for (const m of messages) {
    for (const c of m.tool_calls ?? []) {
      const name = c.function?.name ?? '';
      try {
        made.add(callKey(name, JSON.parse(c.function?.arguments || '{}')));
      } catch {
        made.add(callKey(name, c.function?.arguments));
      }
    }
  }
  return made;
}

function callKey(name: string, args: unknown): string {
  return `${name} ${JSON.stringify(sorted(args))}`;
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
    );
  return v;
}
