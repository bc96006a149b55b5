import { createHash } from 'node:crypto';
import type { AgentDefinition, Workflow } from '@parley/contracts';
import { canonicalJson } from '@parley/contracts';
import type { ModelCallState, RunState } from '../run-state';
import type { ChatMessage, DecideContext, ModelCallPlan, Step, StructuredOutput, ToolSpec } from '../steps';

/** What every pattern's decider uses: actors, model-call plans, the steps that end a run. */
export const SYSTEM_ACTOR = { kind: 'system', id: 'parley' } as const;
export const agentActor = (name: string) => ({ kind: 'agent', id: name }) as const;

export function sha256(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function agentNamed(workflow: Workflow, name: string): AgentDefinition {
  const agent = workflow.agents.find((a) => a.name === name);
  if (!agent) throw new Error(`workflow ${workflow.name} has no agent "${name}"`);
  return agent;
}

export function callsFor(state: RunState, purpose: string, agent?: string): ModelCallState[] {
  return state.modelCalls.filter((c) => c.purpose === purpose && (agent === undefined || c.agent === agent));
}

export function completed(calls: ModelCallState[]): ModelCallState[] {
  return calls.filter((c) => c.status === 'completed');
}

export function last<T>(items: readonly T[]): T | undefined {
  return items[items.length - 1];
}

export function callModel(
  state: RunState,
  ctx: DecideContext,
  agentName: string,
  purpose: string,
  messages: ChatMessage[],
  options: { tools?: ToolSpec[]; structured?: StructuredOutput } = {},
): ModelCallPlan {
  const agent = agentNamed(state.workflow, agentName);
  return {
    callId: ctx.newId(),
    agent,
    purpose,
    messages: [{ role: 'system', content: agent.system }, ...messages],
    tools: options.tools ?? [],
    structured: options.structured,
  };
}

export function callStep(...calls: ModelCallPlan[]): Step {
  return { kind: 'call-models', calls };
}

export function finish(output: string): Step {
  return { kind: 'append', events: [{ type: 'run.completed', actor: SYSTEM_ACTOR, data: { output } }] };
}

export function fail(code: string, message: string): Step {
  return { kind: 'append', events: [{ type: 'run.failed', actor: SYSTEM_ACTOR, data: { code, message } }] };
}

export function cancel(reason: string): Step {
  return { kind: 'append', events: [{ type: 'run.cancelled', actor: SYSTEM_ACTOR, data: { reason } }] };
}

/** Human messages and answers posted after `afterSeq`, as user messages. */
export function humanMessagesSince(state: RunState, afterSeq: number): ChatMessage[] {
  return state.transcript
    .filter((t) => t.role === 'human' && t.seq > afterSeq && t.seq !== 1)
    .map((t) => ({ role: 'user', content: `[${t.speaker}] ${t.content}` }));
}
