import { createHash } from 'node:crypto';
import type {
  AgentDefinition,
  EventData,
  Gate,
  HumanRequestKind,
  NewEvent,
  RequestSubject,
  Workflow,
} from '@parley/contracts';
import { canonicalJson, durationMs } from '@parley/contracts';
import { escalateExpired } from '../hitl/escalation-chain';
import type { HumanRequestState, ModelCallState, RunState } from '../run-state';
import type { ChatMessage, DecideContext, ModelCallPlan, Step, StructuredOutput, ToolSpec } from '../steps';

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

/** The decisions each kind of request accepts. */
export const DECISIONS_BY_KIND: Record<HumanRequestKind, NewEventDecision[]> = {
  approval: ['approve', 'reject', 'edit'],
  confirmation: ['confirm', 'decline'],
  review: ['approve', 'feedback', 'edit', 'reject'],
  plan: ['approve', 'edit', 'feedback', 'reject'],
  escalation: ['approve', 'reject', 'answer', 'handback', 'close'],
  input: ['answer', 'skip'],
  reconcile: ['answer', 'approve', 'reject'], // tools/reconcile.ts
};
type NewEventDecision =
  | 'approve'
  | 'reject'
  | 'edit'
  | 'feedback'
  | 'confirm'
  | 'decline'
  | 'answer'
  | 'handback'
  | 'close'
  | 'skip';

export interface OpenRequest {
  kind: HumanRequestKind;
  subject: RequestSubject;
  title: string;
  ask: string;
  payload: unknown;
  payloadHash?: string;
  gate: Pick<Gate, 'roles'> & Partial<Gate>;
  decisions?: NewEventDecision[];
  requesterOnly?: boolean;
  escalation?: { reason: string; context: string; suggested_action: string; source: 'agent' | 'policy' };
  /** The workflow rule a tool-call gate is opened for (what its decisions satisfy). */
  policy?: EventData<'human-request.opened'>['policy'];
  /** The escalation tier (0: first opened). */
  tier?: number;
}

export function openRequestEvent(state: RunState, ctx: DecideContext, r: OpenRequest): NewEvent {
  const timeout = r.gate.timeout;
  return {
    type: 'human-request.opened',
    actor: SYSTEM_ACTOR,
    data: {
      requestId: ctx.newId(),
      kind: r.kind,
      subject: r.subject,
      title: r.title,
      ask: r.ask,
      payload: r.payload,
      payloadHash: r.payloadHash ?? sha256(r.payload),
      decisions: r.decisions ?? DECISIONS_BY_KIND[r.kind],
      roles: r.requesterOnly ? [`user:${state.requestedBy}`] : r.gate.roles,
      quorum: r.gate.quorum ?? 1,
      fourEyes: r.gate.fourEyes ?? false,
      requester: state.requestedBy,
      deadline: timeout ? new Date(ctx.now.getTime() + durationMs(timeout.after)).toISOString() : null,
      onTimeout: timeout
        ? timeout.chain
          ? {
              action: timeout.then,
              escalateTo: timeout.chain[0].roles[0],
              chain: timeout.chain,
              finally: timeout.finally ?? 'reject',
            }
          : { action: timeout.then, escalateTo: timeout.escalateTo }
        : null,
      escalation: r.escalation,
      ...(r.policy ? { policy: r.policy } : {}),
      ...(r.tier !== undefined ? { tier: r.tier } : {}),
    },
  };
}

export function requestsAbout(state: RunState, match: (s: RequestSubject) => boolean): HumanRequestState[] {
  return state.requests.filter((r) => match(r.subject));
}

/**
 * What a closed request amounts to. An expiry maps through its timeout action; an expiry that
 * escalates is superseded by the escalation request opened after it.
 */
export function outcomeOf(r: HumanRequestState): NewEventDecision | 'open' | 'escalated' {
  if (r.status === 'open') return 'open';
  if (r.status === 'resolved') return r.outcome as NewEventDecision;
  switch (r.expiredAction) {
    case 'approve':
      return 'approve';
    case 'reject':
      return 'reject';
    case 'escalate':
      return 'escalated';
    default:
      return 'skip';
  }
}

/**
 * Feedback given on a subject, one entry per version sent back, in order: a `feedback` decision, or
 * an escalation of the review answered (`answer` / `handback`) with guidance.
 */
export function feedbackOn(state: RunState, about: (s: RequestSubject) => boolean): string[] {
  return state.requests
    .filter(
      (r) =>
        about(r.subject) &&
        r.status === 'resolved' &&
        (r.outcome === 'feedback' || r.outcome === 'answer' || r.outcome === 'handback'),
    )
    .map((r) => r.outcomeComment ?? 'Please revise.');
}

/** Human messages and answers posted after `afterSeq`, as user messages. */
export function humanMessagesSince(state: RunState, afterSeq: number): ChatMessage[] {
  return state.transcript
    .filter((t) => t.role === 'human' && t.seq > afterSeq && t.seq !== 1)
    .map((t) => ({ role: 'user', content: `[${t.speaker}] ${t.content}` }));
}

export type ReviewResult =
  | { status: 'pending'; step: Step }
  | { status: 'approved'; value: unknown; edited: boolean }
  | { status: 'feedback'; comment: string }
  | { status: 'rejected'; comment: string };

/**
 * The review loop shared by every pattern's human checkpoint: the latest output `call` is shown
 * to a human (the latest request about `subject`); approve / edit / feedback / reject.
 */
export function review(
  state: RunState,
  ctx: DecideContext,
  options: {
    subject: RequestSubject;
    sameSubject: (s: RequestSubject) => boolean;
    gate: Gate;
    kind?: HumanRequestKind;
    /** Seq of the output under review: a request opened before it is about an older version. */
    outputSeq: number;
    title: string;
    ask: string;
    payload: unknown;
    allowFeedback: boolean;
  },
): ReviewResult {
  const latest = last(
    requestsAbout(state, options.sameSubject).filter((r) => r.openedSeq > options.outputSeq),
  );
  if (!latest) {
    const kind = options.kind ?? 'review';
    const decisions = DECISIONS_BY_KIND[kind].filter((d) => options.allowFeedback || d !== 'feedback');
    return {
      status: 'pending',
      step: {
        kind: 'append',
        events: [
          openRequestEvent(state, ctx, {
            kind,
            subject: options.subject,
            title: options.title,
            ask: options.ask,
            payload: options.payload,
            gate: options.gate,
            decisions,
          }),
        ],
      },
    };
  }
  const outcome = outcomeOf(latest);
  switch (outcome) {
    case 'open':
      return { status: 'pending', step: { kind: 'wait' } };
    case 'escalated':
      return { status: 'pending', step: escalateExpired(state, ctx, latest) };
    case 'approve':
    case 'confirm':
    case 'skip':
      return { status: 'approved', value: options.payload, edited: false };
    case 'edit':
      return { status: 'approved', value: latest.outcomePayload ?? options.payload, edited: true };
    case 'feedback':
    case 'answer':
    case 'handback':
      return { status: 'feedback', comment: latest.outcomeComment ?? 'Please revise.' };
    default:
      return { status: 'rejected', comment: latest.outcomeComment ?? 'Rejected.' };
  }
}

export { escalateExpired };
