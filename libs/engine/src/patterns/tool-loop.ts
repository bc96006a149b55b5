import type { EscalationRule, NewEvent } from '@parley/contracts';
import { test } from '../policies/expression';
import type { HumanRequestState, ModelCallState, RunState, ToolCallState } from '../run-state';
import type { ChatMessage, DecideContext, Step, ToolSpec } from '../steps';
import {
  SYSTEM_ACTOR,
  agentActor,
  escalateExpired,
  last,
  openRequestEvent,
  outcomeOf,
  requestsAbout,
  sha256,
} from './shared';

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
    const policies = state.workflow.policies;
    const escalation = policies.escalations.find(
      (rule) => rule.tool === tc.name && (!rule.when || test(rule.when, parsed.args)),
    );
    const approval = policies.approvals.find(
      (rule) => rule.tool === tc.name && (!rule.when || test(rule.when, parsed.args)),
    );
    if (escalation) {
      // The escalation replaces the approval gate: it keeps the approval's four-eyes rule, else
      // the requester could approve their own call by way of the escalation.
      const fourEyes = approval?.fourEyes ?? false;
      events.push(
        ...escalate(
          state,
          ctx,
          escalation,
          { type: 'tool-call', callId },
          { tool: tc.name, args },
          argsHash,
          fourEyes,
        ),
      );
      return;
    }
    if (approval) {
      const confirmation = approval.kind === 'confirmation';
      events.push(
        openRequestEvent(state, ctx, {
          kind: approval.kind,
          subject: { type: 'tool-call', callId },
          title: confirmation ? `Confirm ${tc.name}` : `Approve ${tc.name}`,
          ask: confirmation
            ? `${call.agent} will run ${tc.name} with ${JSON.stringify(args)}. Confirm?`
            : `${call.agent} wants to run ${tc.name} with ${JSON.stringify(args)}${approval.when ? ` (policy: ${approval.when})` : ''}.`,
          payload: { tool: tc.name, args },
          payloadHash: argsHash,
          gate: approval,
          requesterOnly: confirmation,
        }),
      );
    }
  });
  return events.length > 0 ? { kind: 'append', events } : undefined;
}

export function escalate(
  state: RunState,
  ctx: DecideContext,
  rule: EscalationRule,
  subject: Parameters<typeof openRequestEvent>[2]['subject'],
  payload: unknown,
  payloadHash?: string,
  fourEyes = false,
): NewEvent[] {
  const context = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const ruleName = rule.when ?? rule.inputMatches ?? rule.reason;
  return [
    {
      type: 'escalation.raised',
      actor: SYSTEM_ACTOR,
      data: {
        reason: rule.reason,
        context,
        suggested_action: rule.suggestedAction,
        source: 'policy',
        rule: ruleName,
      },
    },
    openRequestEvent(state, ctx, {
      kind: 'escalation',
      subject,
      title: `Escalation: ${rule.reason}`,
      ask: `${rule.reason}. Suggested: ${rule.suggestedAction} Approve the held action, reject it, answer or hand back with guidance, or close the run.`,
      payload,
      payloadHash,
      gate: { roles: rule.roles, fourEyes },
      escalation: { reason: rule.reason, context, suggested_action: rule.suggestedAction, source: 'policy' },
    }),
  ];
}

function gateOf(state: RunState, call: ToolCallState): HumanRequestState | undefined {
  return last(requestsAbout(state, (s) => s.type === 'tool-call' && s.callId === call.callId));
}

/** The arguments a tool runs with: a human may have edited them when approving. */
export function effectiveArgs(state: RunState, call: ToolCallState): unknown {
  const gate = gateOf(state, call);
  if (gate?.status === 'resolved' && gate.outcome === 'edit') {
    const edited = gate.outcomePayload as { args?: unknown } | undefined;
    return edited?.args ?? call.args;
  }
  return call.args;
}

/**
 * Move requested tool calls along: run the ones that need no human (or were approved), record
 * rejections. Returns undefined when no tool call needs anything (the pattern decides next).
 */
export function advanceToolCalls(state: RunState, ctx: DecideContext): Step | undefined {
  for (const call of state.toolCalls) {
    if (call.status === 'started') return { kind: 'run-tool', callId: call.callId }; // recovery: same idempotency key
    if (call.status !== 'requested') continue;
    if (!mayCall(state, call.agent, call.tool)) {
      // Only a log written before calls outside the list were refused at request time gets here.
      return {
        kind: 'append',
        events: [
          {
            type: 'tool-call.rejected',
            actor: SYSTEM_ACTOR,
            data: { callId: call.callId, reason: notAllowedReason(state, call.agent, call.tool) },
          },
        ],
      };
    }
    if (call.tool === ESCALATE_TOOL) {
      const gate = gateOf(state, call);
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
    const gate = gateOf(state, call);
    if (!gate) return { kind: 'run-tool', callId: call.callId };
    const outcome = outcomeOf(gate);
    if (outcome === 'open') continue;
    if (outcome === 'escalated') return escalateExpired(state, ctx, gate);
    if (outcome === 'approve' || outcome === 'confirm' || outcome === 'edit')
      return { kind: 'run-tool', callId: call.callId };
    const reason =
      outcome === 'close'
        ? 'closed by a human'
        : `${outcome === 'decline' ? 'declined' : outcome === 'reject' ? 'rejected' : `not run (${outcome})`} by a human${gate.outcomeComment ? `: ${gate.outcomeComment}` : ''}`;
    const events: NewEvent[] = [
      {
        type: 'tool-call.rejected',
        actor: SYSTEM_ACTOR,
        data: { callId: call.callId, reason, requestId: gate.requestId },
      },
    ];
    if (outcome === 'close') {
      events.push({
        type: 'run.completed',
        actor: SYSTEM_ACTOR,
        data: { output: gate.outcomeComment ?? 'Closed by a human.' },
      });
    }
    return { kind: 'append', events };
  }
  return undefined;
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

/** Policy escalation over the human's input (a legal threat, a request for a manager), before any model call. */
export function escalateOnInput(state: RunState, ctx: DecideContext): Step | undefined {
  for (const rule of state.workflow.policies.escalations) {
    if (!rule.inputMatches) continue;
    if (state.escalations.some((e) => e.rule === rule.inputMatches)) continue;
    if (new RegExp(rule.inputMatches, 'i').test(state.input)) {
      return {
        kind: 'append',
        events: escalate(state, ctx, rule, { type: 'escalation' }, { input: state.input }),
      };
    }
  }
  return undefined;
}
