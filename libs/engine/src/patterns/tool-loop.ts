import type { NewEvent } from '@parley/contracts';
import { escalate, escalateOnInput } from '../hitl/escalation-rules';
import { authorizeToolCall, effectiveArgs, gateEvents, governingRule, latestGate } from '../hitl/tool-gates';
import type { HumanRequestState, ModelCallState, RunState } from '../run-state';
import type { ChatMessage, DecideContext, Step, ToolSpec } from '../steps';
import { settleReconciled } from '../tools/reconcile';
import { SYSTEM_ACTOR, agentActor, sha256 } from './shared';
import { escalateExpired } from '../hitl/escalation-chain';
import { openRequestEvent, outcomeOf } from '../hitl/requests';

/** Built-in tool through which an agent asks for a human: EscalationNeeded {reason, context, suggested_action}. */
export const ESCALATE_TOOL = 'escalate_to_human';
export const escalateToolSpec: ToolSpec = {
  name: ESCALATE_TOOL,
  description:
    'Hand the case to a human when you cannot or must not resolve it yourself (a legal threat, a request for a manager, an amount above your limit).',
  parameters: {
    type: 'object',
    properties: {
      reason: { type: 'string', description: 'why a human is needed' },
      context: { type: 'string', description: 'what the human needs to know' },
      suggested_action: { type: 'string', description: 'what you suggest the human does' },
    },
    required: ['reason', 'context', 'suggested_action'],
    additionalProperties: false,
  },
};

export const toolCallId = (modelCallId: string, index: number): string => `${modelCallId}.${index}`;

export function toolsOf(
  state: RunState,
  ctx: DecideContext,
  agentName: string,
  extra: ToolSpec[] = [],
): ToolSpec[] {
  const agent = state.workflow.agents.find((a) => a.name === agentName);
  const own = (agent?.tools ?? [])
    .map((name) => ctx.toolSpec(name))
    .filter((t): t is ToolSpec => t !== undefined);
  return [...own, escalateToolSpec, ...extra];
}

/**
 * The tools an agent may call: its workflow's list and `escalate_to_human`. The model is offered
 * exactly these, but what it answers is not trusted: a call to any other tool is refused.
 */
export function mayCall(state: RunState, agentName: string, tool: string): boolean {
  if (tool === ESCALATE_TOOL) return true;
  const agent = state.workflow.agents.find((a) => a.name === agentName);
  return agent?.tools?.includes(tool) ?? false;
}

/** Why a call outside the agent's list is refused (what the agent is told). */
export function notAllowedReason(state: RunState, agentName: string, tool: string): string {
  const agent = state.workflow.agents.find((a) => a.name === agentName);
  const own = [...(agent?.tools ?? []), ESCALATE_TOOL];
  return `TOOL.NOT_ALLOWED: "${tool}" is not one of ${agentName}'s tools (${own.join(', ')}); refused, not run`;
}

/**
 * Turn the tool calls of a completed model call into `tool-call.requested` facts, applying the
 * workflow's policies: an escalation rule holds the call for a human; an approval rule gates it.
 * A call to a tool outside the agent's list is recorded and refused at once (`tool-call.rejected`),
 * never run and never put to a human. Returns undefined when every call of `call` is already requested.
 */
export function requestToolCalls(
  state: RunState,
  ctx: DecideContext,
  call: ModelCallState,
  isHandledElsewhere: (name: string) => boolean = () => false,
): Step | undefined {
  const events: NewEvent[] = [];
  call.toolCalls.forEach((tc, index) => {
    if (isHandledElsewhere(tc.name)) return;
    const callId = toolCallId(call.callId, index);
    if (state.toolCalls.some((t) => t.callId === callId)) return;
    const args = tc.arguments ?? {};
    const argsHash = sha256({ tool: tc.name, args });
    events.push({
      type: 'tool-call.requested',
      actor: agentActor(call.agent),
      data: {
        callId,
        agent: call.agent,
        tool: tc.name,
        args,
        argsHash,
        idempotencyKey: `${state.runId}:${callId}`,
      },
    });
    if (!mayCall(state, call.agent, tc.name)) {
      events.push({
        type: 'tool-call.rejected',
        actor: SYSTEM_ACTOR,
        data: { callId, reason: notAllowedReason(state, call.agent, tc.name) },
      });
      return;
    }
    if (tc.name === ESCALATE_TOOL) {
      const e = args as { reason?: string; context?: string; suggested_action?: string };
      const escalation = {
        reason: String(e.reason ?? 'The agent asked for a human'),
        context: String(e.context ?? ''),
        suggested_action: String(e.suggested_action ?? ''),
      };
      events.push({
        type: 'escalation.raised',
        actor: agentActor(call.agent),
        data: { ...escalation, source: 'agent' },
      });
      events.push(
        openRequestEvent(state, ctx, {
          kind: 'escalation',
          subject: { type: 'tool-call', callId },
          title: `Escalation from ${call.agent}: ${escalation.reason}`,
          ask: `${escalation.reason}. Suggested: ${escalation.suggested_action || 'take over the case'}. Answer the agent, hand back with guidance, or close the run.`,
          payload: { ...escalation, agent: call.agent },
          gate: { roles: ['approver'] },
          escalation: { ...escalation, source: 'agent' },
        }),
      );
      return;
    }
    // Arguments the tool's schema refuses are refused now, before any gate: a shape that slips past
    // a policy (an amount as a string, hidden in "__proto__") could never be approved into a run.
    // The gates test the arguments as the tool will receive them, not as the model wrote them.
    const parsed = ctx.parseArgs?.(tc.name, args) ?? { ok: true, args };
    if (!parsed.ok) {
      events.push({
        type: 'tool-call.rejected',
        actor: SYSTEM_ACTOR,
        data: { callId, reason: `${parsed.code}: ${parsed.message}; refused, not run` },
      });
      return;
    }
    // The gate is opened now, in the same append as the call, by the same rule that is checked
    // again right before the call runs (hitl/tool-gates.ts).
    const rule = governingRule(state.workflow.policies, tc.name, parsed.args);
    if (rule)
      events.push(...gateEvents(state, ctx, { callId, agent: call.agent, tool: tc.name }, args, rule));
  });
  return events.length > 0 ? { kind: 'append', events } : undefined;
}

export { effectiveArgs };

/**
 * Move requested tool calls along: run the ones that need no human (or were approved), record
 * rejections. Returns undefined when no tool call needs anything (the pattern decides next).
 */
export function advanceToolCalls(state: RunState, ctx: DecideContext): Step | undefined {
  for (const call of state.toolCalls) {
    if (call.status !== 'requested' && call.status !== 'started') continue;
    if (!mayCall(state, call.agent, call.tool)) {
      // Only a log written before calls outside the list were refused at request time gets here
      // (or an imported or forked one): refused, never run.
      return rejectCall(call.callId, notAllowedReason(state, call.agent, call.tool));
    }
    const gate = latestGate(state, call.callId);
    if (gate?.kind === 'reconcile') {
      // An interrupted call of a tool that is not idempotent: as the human said (tools/reconcile.ts).
      const settled = settleReconciled(call, gate);
      if (settled === 'wait') continue;
      if (settled) return settled;
    }
    if (call.tool === ESCALATE_TOOL) {
      if (!gate || gate.status === 'open') continue;
      return {
        kind: 'append',
        events: [
          {
            type: 'tool-call.completed',
            actor: SYSTEM_ACTOR,
            data: {
              callId: call.callId,
              result: { human: gate.outcomeComment ?? gate.outcome ?? 'no answer' },
              reconciled: false,
            },
          },
        ],
      };
    }
    const outcome = gate ? outcomeOf(gate) : undefined;
    if (outcome === 'open') continue;
    if (gate && outcome === 'escalated') return escalateExpired(state, ctx, gate);
    if (gate && outcome !== undefined && outcome !== 'approve' && outcome !== 'confirm' && outcome !== 'edit')
      return humanDenied(gate, call.callId, outcome);
    // No gate yet, or the latest one approved: the policies decide, on the arguments that would run
    // (recovery of a started call included: a started call nobody approved is not run).
    const verdict = authorizeToolCall(state, ctx, call);
    if (verdict.kind === 'run') return { kind: 'run-tool', callId: call.callId };
    if (verdict.kind === 'refuse') return rejectCall(call.callId, verdict.reason);
    return { kind: 'append', events: verdict.events };
  }
  return undefined;
}

function rejectCall(callId: string, reason: string, requestId?: string): Step {
  const data = requestId === undefined ? { callId, reason } : { callId, reason, requestId };
  return { kind: 'append', events: [{ type: 'tool-call.rejected', actor: SYSTEM_ACTOR, data }] };
}

/** A human said no (reject, decline, close, an expiry that does not approve ...): the call is not run. */
function humanDenied(gate: HumanRequestState, callId: string, outcome: string): Step {
  const reason =
    outcome === 'close'
      ? 'closed by a human'
      : `${outcome === 'decline' ? 'declined' : outcome === 'reject' ? 'rejected' : `not run (${outcome})`} by a human${gate.outcomeComment ? `: ${gate.outcomeComment}` : ''}`;
  const step = rejectCall(callId, reason, gate.requestId) as { kind: 'append'; events: NewEvent[] };
  if (outcome === 'close') {
    step.events.push({
      type: 'run.completed',
      actor: SYSTEM_ACTOR,
      data: { output: gate.outcomeComment ?? 'Closed by a human.' },
    });
  }
  return step;
}

export function toolCallsSettled(
  state: RunState,
  call: ModelCallState,
  handledElsewhere: (name: string) => boolean = () => false,
): boolean {
  return call.toolCalls.every((tc, index) => {
    if (handledElsewhere(tc.name)) return true;
    const t = state.toolCalls.find((x) => x.callId === toolCallId(call.callId, index));
    return t !== undefined && (t.status === 'completed' || t.status === 'failed' || t.status === 'rejected');
  });
}

/**
 * The conversation as an agent in a tool loop sees it: the request, its own turns with their tool
 * calls and results, other agents' turns and human messages as user text, in the order they happened.
 */
export function toolLoopMessages(
  state: RunState,
  agentName: string,
  purposes: string[] = ['reply'],
): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'user', content: state.input }];
  type Item = { seq: number; messages: ChatMessage[] };
  const items: Item[] = [];
  for (const call of state.modelCalls) {
    if (call.status !== 'completed' || !purposes.includes(call.purpose)) continue;
    if (call.agent !== agentName) {
      if (call.content)
        items.push({
          seq: call.seq,
          messages: [{ role: 'user', content: `[${call.agent}] ${call.content}` }],
        });
      continue;
    }
    items.push({ seq: call.seq, messages: ownCallMessages(state, call) });
  }
  for (const t of state.transcript) {
    if (t.role === 'human' && t.seq > 1)
      items.push({ seq: t.seq, messages: [{ role: 'user', content: t.content }] });
    if (t.role === 'system')
      items.push({ seq: t.seq, messages: [{ role: 'user', content: `[handoff] ${t.content}` }] });
  }
  items.sort((a, b) => a.seq - b.seq);
  for (const item of items) messages.push(...item.messages);
  return messages;
}

export { escalate, escalateOnInput };

/** An agent's own completed model call as it sees it again: its answer, then each tool call's result. */
export function ownCallMessages(state: RunState, call: ModelCallState): ChatMessage[] {
  const own: ChatMessage[] = [
    {
      role: 'assistant',
      content: call.content,
      toolCalls: call.toolCalls.length ? call.toolCalls : undefined,
    },
  ];
  call.toolCalls.forEach((tc, index) => {
    const t = state.toolCalls.find((x) => x.callId === toolCallId(call.callId, index));
    const content =
      t?.status === 'completed'
        ? JSON.stringify(t.result)
        : t?.status === 'rejected' || t?.status === 'failed'
          ? JSON.stringify({ error: t.error })
          : JSON.stringify({ status: 'handled' });
    own.push({ role: 'tool', content, toolCallId: tc.id });
  });
  return own;
}
