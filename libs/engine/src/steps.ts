import type { z } from 'zod';
import type { AgentDefinition, NewEvent } from '@parley/contracts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** assistant messages that called tools */
  toolCalls?: Array<{ id: string; name: string; arguments: unknown }>;
  /** tool messages: the id of the call they answer */
  toolCallId?: string;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments */
  parameters: Record<string, unknown>;
}

export interface StructuredOutput {
  /** Stable name, sent as the json_schema name. */
  name: string;
  schema: z.ZodType;
}

export interface ModelCallPlan {
  callId: string;
  agent: AgentDefinition;
  purpose: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  structured?: StructuredOutput;
}

/** What the engine does next for a run. Decided by pure functions; performed by the engine. */
export type Step =
  /** Record facts that follow from the state alone (a request opened, a plan recorded, the run finished ...). */
  | { kind: 'append'; events: NewEvent[] }
  /** Call one or more models (several run in parallel: concurrent fan-out). */
  | { kind: 'call-models'; calls: ModelCallPlan[] }
  /** Run a requested tool call that needs no (further) human approval. */
  | { kind: 'run-tool'; callId: string }
  /** Nothing to do until a human acts (or a deadline passes). */
  | { kind: 'wait' }
  /** The run has ended. */
  | { kind: 'done' };

/** Impure inputs to decisions, injected so that decide stays pure and testable. */
export interface DecideContext {
  now: Date;
  newId: () => string;
  /** Tool specs by name (from the tool registry). */
  toolSpec: (name: string) => ToolSpec | undefined;
  /**
   * The arguments as the tool will receive them (its zod schema applied), or why they are refused.
   * Gates are evaluated on these, so that what a policy tests is what the tool runs with.
   */
  parseArgs?: (tool: string, args: unknown) => ParsedArgs;
}

export type ParsedArgs = { ok: true; args: unknown } | { ok: false; code: string; message: string };
