/** Pure text helpers over a chat conversation: no clock, no randomness. */
import type { ChatMessage } from './types';

export function messageText(m: ChatMessage): string {
  const c = m.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    return c
      .map((p) => (p && typeof p.text === 'string' ? p.text : ''))
      .filter((t) => t.length > 0)
      .join('\n');
  }
  return '';
}

const isSystem = (m: ChatMessage): boolean => m.role === 'system' || m.role === 'developer';

/** All system/developer messages joined. */
export function systemPrompt(messages: ChatMessage[]): string {
  return messages.filter(isSystem).map(messageText).join('\n');
}

export function lastUserMessage(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return messageText(messages[i]);
  }
  return '';
}

/** The last message that is not system/developer. */
export function lastNonSystem(messages: ChatMessage[]): ChatMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (!isSystem(messages[i])) return messages[i];
  }
  return undefined;
}

export function collapse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export function firstWords(s: string, n: number): string {
  const words = collapse(s)
    .split(' ')
    .filter((w) => w.length > 0);
  return words.slice(0, n).join(' ') + (words.length > n ? ' ...' : '');
}

/** Approximate token count: number of whitespace-separated words. */
export function countWords(s: string): number {
  const t = s.trim();
  return t.length === 0 ? 0 : t.split(/\s+/).length;
}

export interface Turn {
  name: string;
  messageIndex: number;
}

/**
 * Transcript turns: every line (of a non-system message) that starts with `[name]`.
 * A message may hold one turn or a whole transcript rendered line by line.
 */
export function transcriptTurns(messages: ChatMessage[]): Turn[] {
  const turns: Turn[] = [];
  messages.forEach((m, messageIndex) => {
    if (isSystem(m)) return;
    for (const line of messageText(m).split('\n')) {
      const match = /^\s*\[([^\]\n]+)\]/.exec(line);
      if (match) turns.push({ name: match[1].trim(), messageIndex });
    }
  });
  return turns;
}

export const sameName = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

const STOP = new Set([
  'of',
  'for',
  'in',
  'at',
  'on',
  'who',
  'that',
  'which',
  'and',
  'with',
  'to',
  'from',
  'agent',
  'here',
]);

/**
 * Role name from the system prompt: "You are the editor of ..." -> "editor",
 * "You are a billing specialist." -> "billing specialist". Falls back to "assistant".
 */
export function roleName(system: string): string {
  const m = /\byou are\s+(?:(?:the|a|an)\s+)?([A-Za-z][\w-]*)(?:\s+([A-Za-z][\w-]*))?/i.exec(system);
  if (!m) return 'assistant';
  const words = [m[1], m[2]].filter((w): w is string => !!w);
  const kept: string[] = [];
  for (const w of words) {
    if (STOP.has(w.toLowerCase())) break;
    kept.push(w);
  }
  return kept.length ? kept.join(' ').toLowerCase() : 'assistant';
}

/** FNV-1a 32-bit, hex. Used for deterministic ids. */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export function deterministicId(seed: string, length = 24): string {
  let out = '';
  let i = 0;
  while (out.length < length) out += fnv1a(`${i++}:${seed}`);
  return out.slice(0, length);
}
