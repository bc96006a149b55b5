/** Rule 2: tools offered and the user spoke last -> maybe call a tool. */
import { generateInstance, resolveSchema, schemaEnum, schemaProperties } from './json-instance';
import type { ChatMessage, JsonSchema, ToolDef } from './types';
import { collapse, firstWords, lastUserMessage, roleName, systemPrompt } from './text';

export interface PlannedCall {
  name: string;
  args: Record<string, unknown>;
}

const BILLING = /\b(refund\w*|invoic\w*|charg\w*|bill\w*|payment\w*|subscription\w*)\b/i;
const TECHNICAL = /\b(error\w*|crash\w*|bug\w*|log-?ins?|logging in|log in|password\w*|install\w*|broken)\b/i;

export type Department = 'billing' | 'technical' | 'general';

export function classifyDepartment(text: string): Department {
  if (BILLING.test(text)) return 'billing';
  if (TECHNICAL.test(text)) return 'technical';
  return 'general';
}

export const functionTools = (tools: ToolDef[] | undefined): { name: string; parameters: JsonSchema }[] =>
  (tools ?? [])
    .filter((t) => t.type === 'function' && t.function && typeof t.function.name === 'string')
    .map((t) => ({
      name: t.function!.name,
      parameters: t.function!.parameters ?? { type: 'object', properties: {} },
    }));

/** `$120`, `$1,200.50`, `120 USD`, `120 dollars` -> number. */
export function findAmount(text: string): number | undefined {
  const m = /\$\s?(\d[\d,]*(?:\.\d+)?)/.exec(text) ?? /(\d[\d,]*(?:\.\d+)?)\s?(?:USD|dollars?)\b/i.exec(text);
  return m ? Number(m[1].replace(/,/g, '')) : undefined;
}

/** `order #A123`, `order A123`, `order number 42`, `order no. 42` -> id (must contain a digit). */
export function findOrderId(text: string): string | undefined {
  const m = /\border\s*(?:number|no\.?|id)?\s*[:#]?\s*#?([A-Za-z-]*\d[\w-]*)/i.exec(text);
  return m ? m[1] : undefined;
}

function handoff(messages: ChatMessage[], tools: { name: string }[]): PlannedCall | undefined {
  if (!tools.some((t) => t.name.startsWith('transfer_to_'))) return undefined;
  const user = lastUserMessage(messages);
  if (/^\s*\[handoff\]/i.test(user)) return undefined;
  const target = classifyDepartment(user);
  const system = systemPrompt(messages);
  const already =
    roleName(system).split(' ').includes(target) ||
    new RegExp(`\\byou are\\s+(?:(?:the|a|an)\\s+)?${target}\\b`, 'i').test(system);
  if (already) return undefined;
  const name = `transfer_to_${target}`;
  return tools.some((t) => t.name === name) ? { name, args: {} } : undefined;
}

function amountTool(
  messages: ChatMessage[],
  tools: { name: string; parameters: JsonSchema }[],
): PlannedCall | undefined {
  const amount = findAmount(lastUserMessage(messages));
  if (amount === undefined) return undefined;
  const tool = tools.find((t) => {
    const p = schemaProperties(t.parameters, t.parameters).amount;
    const types = p ? (Array.isArray(p.type) ? p.type : [p.type]) : [];
    return types.includes('number') || types.includes('integer');
  });
  if (!tool) return undefined;
  const isInt = schemaProperties(tool.parameters, tool.parameters).amount.type === 'integer';
  return { name: tool.name, args: { amount: isInt ? Math.round(amount) : amount } };
}

/**
 * A tool the last user message names (underscores read as spaces: "check the refund history" names
 * `refund_history`), when the tool takes no amount: a look-up, never a payment (handoff and
 * escalation tools are left to their own rules).
 */
function namedTool(
  messages: ChatMessage[],
  tools: { name: string; parameters: JsonSchema }[],
): PlannedCall | undefined {
  const user = collapse(lastUserMessage(messages)).toLowerCase();
  const tool = tools.find((t) => {
    if (/^(transfer_to_|escalate_to_human$)/.test(t.name)) return false;
    if ('amount' in schemaProperties(t.parameters, t.parameters)) return false;
    const spoken = t.name.toLowerCase().replace(/_/g, ' ');
    return new RegExp(`\\b(?:${escapeRegExp(spoken)}|${escapeRegExp(t.name.toLowerCase())})\\b`).test(user);
  });
  return tool ? { name: tool.name, args: {} } : undefined;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Decide which tool (if any) to call for the last user message. */
export function planToolCall(
  messages: ChatMessage[],
  toolDefs: ToolDef[] | undefined,
  toolChoice: unknown,
): PlannedCall | undefined {
  const tools = functionTools(toolDefs);
  if (tools.length === 0 || toolChoice === 'none') return undefined;
  const forced = forcedName(toolChoice);
  const planned = forced
    ? (amountTool(
        messages,
        tools.filter((t) => t.name === forced),
      ) ?? { name: forced, args: {} })
    : (handoff(messages, tools) ?? amountTool(messages, tools) ?? namedTool(messages, tools));
  if (planned) return planned;
  return toolChoice === 'required' ? { name: tools[0].name, args: {} } : undefined;
}

function forcedName(toolChoice: unknown): string | undefined {
  if (typeof toolChoice !== 'object' || toolChoice === null) return undefined;
  const fn = (toolChoice as { function?: { name?: unknown } }).function;
  return fn && typeof fn.name === 'string' ? fn.name : undefined;
}

/**
 * Complete arguments for a planned call against the tool's parameter schema: `preset`
 * values win; `order*` strings come from the message, `reason`-like strings are the
 * message text, `currency` is USD; other required properties are generated.
 */
export function fillArguments(
  call: PlannedCall,
  toolDefs: ToolDef[] | undefined,
  messages: ChatMessage[],
): Record<string, unknown> {
  const tool = functionTools(toolDefs).find((t) => t.name === call.name);
  const params = tool?.parameters ?? { type: 'object', properties: {} };
  const root = params;
  const props = schemaProperties(params, root);
  const required = new Set(
    Array.isArray(resolveSchema(params, root).required)
      ? (resolveSchema(params, root).required as string[])
      : [],
  );
  const user = lastUserMessage(messages);
  const topic = firstWords(user, 8);
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(props)) {
    if (key in call.args) {
      out[key] = call.args[key];
      continue;
    }
    const plainString =
      schema.type === 'string' && schemaEnum(schema, root).length === 0 && schema.format === undefined;
    const orderId = /order/i.test(key) ? findOrderId(user) : undefined;
    if (plainString && orderId) out[key] = orderId;
    else if (plainString && /reason|description|note|comment|memo|summary/i.test(key))
      out[key] = collapse(user).slice(0, 200) || 'Customer request';
    else if (
      /currency/i.test(key) &&
      (schema.type === 'string' || schemaEnum(schema, root).includes('USD'))
    ) {
      out[key] =
        schemaEnum(schema, root).length === 0 || schemaEnum(schema, root).includes('USD')
          ? 'USD'
          : schemaEnum(schema, root)[0];
    } else if (required.has(key)) out[key] = generateInstance(schema, { topic, root }, key);
  }
  return out;
}
