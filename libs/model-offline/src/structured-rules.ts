/**
 * Rule 1: structured output (`response_format: json_schema`). Named rules overlay a
 * generic schema instance; every overlaid value is checked against the property schema.
 */
import { generateInstance, resolveSchema, schemaEnum, schemaProperties } from './json-instance';
import type { ChatMessage, JsonSchema } from './types';
import { collapse, firstWords, lastUserMessage, messageText, sameName, transcriptTurns } from './text';

type Values = Record<string, unknown>;
type NamedRule = (messages: ChatMessage[], props: Record<string, JsonSchema>, root: JsonSchema) => Values;

const nonSystem = (messages: ChatMessage[]): ChatMessage[] =>
  messages.filter((m) => m.role !== 'system' && m.role !== 'developer');

function firstUserMessage(messages: ChatMessage[]): string {
  const m = messages.find((x) => x.role === 'user');
  return m ? messageText(m) : '';
}

const enumStrings = (props: Record<string, JsonSchema>, key: string, root: JsonSchema): string[] =>
  schemaEnum(props[key], root).filter((v): v is string => typeof v === 'string');

function checkerVerdict(messages: ChatMessage[]): Values {
  const hadFeedback = nonSystem(messages).some((m) => messageText(m).includes('Feedback:'));
  return hadFeedback
    ? { verdict: 'approve', feedback: 'Approved.' }
    : { verdict: 'revise', feedback: 'Add a customer quote and tighten the headline.' };
}

function magenticPlan(messages: ChatMessage[], props: Record<string, JsonSchema>, root: JsonSchema): Values {
  const request = firstWords(firstUserMessage(messages), 12) || 'the request';
  const steps = resolveSchema(props.steps, root);
  const itemSchema = resolveSchema(steps.items, root);
  const agents = enumStrings(schemaProperties(itemSchema, root), 'agent', root);
  const max = typeof steps.maxItems === 'number' ? steps.maxItems : Infinity;
  const out: Values = {
    facts: `The user asks: "${request}". Specialists available: ${agents.join(', ') || 'none'}.`,
  };
  if (agents.length > 0) {
    out.steps = agents.slice(0, max).map((agent) => {
      const base = generateInstance(itemSchema, { topic: request, root }) as Values;
      return { ...base, agent, task: `${agent}: handle your part of "${request}" and report back.` };
    });
  }
  return out;
}

function progressLedger(
  messages: ChatMessage[],
  props: Record<string, JsonSchema>,
  root: JsonSchema,
): Values {
  const names = enumStrings(props, 'next_speaker', root);
  if (names.length === 0) return {};
  const turns = transcriptTurns(messages);
  const pending = names.filter((n) => !turns.some((t) => sameName(t.name, n)));
  const satisfied = pending.length === 0;
  const next = satisfied ? names[names.length - 1] : pending[0];
  const request = firstWords(firstUserMessage(messages), 12) || 'the request';
  return {
    is_request_satisfied: satisfied,
    is_progress_being_made: true,
    is_in_loop: false,
    next_speaker: next,
    instruction: satisfied
      ? `All specialists have reported; ${next}, summarize the results for "${request}".`
      : `${next}, please handle your part of "${request}" and report back.`,
    reason: satisfied ? 'Every specialist has reported.' : `Waiting for a report from ${next}.`,
  };
}

function nextSpeaker(messages: ChatMessage[], props: Record<string, JsonSchema>, root: JsonSchema): Values {
  const names = enumStrings(props, 'next', root);
  if (names.length === 0) return {};
  const turns = transcriptTurns(messages).filter((t) => names.some((n) => sameName(n, t.name)));
  const last = turns.length ? turns[turns.length - 1] : undefined;
  const humanFloor = humanHasFloor(messages);
  const isHuman = (n: string): boolean => sameName(n, 'human');
  const start = last ? names.findIndex((n) => sameName(n, last.name)) + 1 : 0;
  let next = names[start % names.length];
  for (let i = 0; i < names.length; i++) {
    const candidate = names[(start + i) % names.length];
    if (!isHuman(candidate) || humanFloor) {
      next = candidate;
      break;
    }
  }
  const terminate = turns.length >= 2 * names.length;
  return {
    next,
    terminate,
    reason: terminate
      ? `The discussion has had ${turns.length} turns; it is complete.`
      : last
        ? `${next} speaks after ${last.name}.`
        : `${next} opens the discussion.`,
  };
}

/**
 * The human may speak when a line containing `[moderator]` and the word "floor" comes
 * after the human's last `[human]` turn (or the human has not spoken yet).
 */
function humanHasFloor(messages: ChatMessage[]): boolean {
  let floorAt = -1;
  let humanAt = -1;
  let pos = 0;
  messages.forEach((m) => {
    if (m.role === 'system' || m.role === 'developer') return;
    for (const line of messageText(m).split('\n')) {
      pos++;
      if (/\[moderator\]/i.test(line) && /\bfloor\b/i.test(line)) floorAt = pos;
      if (/^\s*\[human\]/i.test(line)) humanAt = pos;
    }
  });
  return floorAt > humanAt;
}

const LEGAL = /\b(lawyers?|legal|lawsuits?|sue|suing|attorneys?)\b/i;
const MANAGER = /\b(managers?|supervisors?)\b/i;

function escalationCheck(messages: ChatMessage[]): Values {
  const last = lastUserMessage(messages);
  const legal = LEGAL.test(last);
  const manager = MANAGER.test(last);
  const escalate = legal || manager;
  return {
    escalate,
    reason: legal
      ? 'The customer mentions legal action.'
      : manager
        ? 'The customer asks for a manager or supervisor.'
        : 'No escalation trigger in the last customer message.',
    context: `Customer said: "${firstWords(last, 12)}"`,
    suggested_action: escalate
      ? 'Hand the conversation to a human supervisor.'
      : 'Continue with the automated agent.',
  };
}

const NAMED: Record<string, NamedRule> = {
  checker_verdict: checkerVerdict,
  magentic_plan: magenticPlan,
  progress_ledger: progressLedger,
  next_speaker: nextSpeaker,
  escalation_check: escalationCheck,
};

export function isNamedRule(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(NAMED, name.toLowerCase());
}

/** JSON text that validates against `schema`; `name` selects a named rule if one exists. */
export function structuredAnswer(
  name: string,
  schema: JsonSchema | undefined,
  messages: ChatMessage[],
): string {
  const root = schema ?? { type: 'object' };
  const topic = firstWords(
    lastUserMessage(messages) || messageText(nonSystem(messages).slice(-1)[0] ?? { role: 'user' }),
    8,
  );
  const base = generateInstance(root, { topic: collapse(topic), root });
  const rule = NAMED[name.toLowerCase()];
  if (!rule || typeof base !== 'object' || base === null || Array.isArray(base)) return JSON.stringify(base);
  const props = schemaProperties(root, root);
  const values = rule(messages, props, root);
  const out = { ...(base as Values) };
  const open = Object.keys(props).length === 0 && resolveSchema(root, root).additionalProperties !== false;
  for (const [key, value] of Object.entries(values)) {
    if (props[key] ? fits(props[key], value, root) : open) out[key] = value;
  }
  return JSON.stringify(out);
}

/** Shallow check that a rule's value is acceptable for a property schema. */
function fits(schema: JsonSchema, value: unknown, root: JsonSchema): boolean {
  const s = resolveSchema(schema, root);
  const allowed = schemaEnum(s, root);
  if (allowed.length > 0) return allowed.some((a) => a === value);
  const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? s.type : [];
  const branchTypes = (['anyOf', 'oneOf'] as const).flatMap((k) =>
    Array.isArray(s[k]) ? (s[k] as unknown[]).map((b) => resolveSchema(b, root).type) : [],
  );
  const all = [...types, ...branchTypes].filter((t): t is string => typeof t === 'string');
  if (all.length === 0) return true;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return all.some(
    (t) =>
      t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'),
  );
}
