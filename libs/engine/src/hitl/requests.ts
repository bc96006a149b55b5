import type { EventData, Gate, HumanRequestKind, NewEvent, RequestSubject } from '@parley/contracts';
import { durationMs } from '@parley/contracts';
import { SYSTEM_ACTOR, sha256 } from '../patterns/shared';
import type { HumanRequestState, RunState } from '../run-state';
import type { DecideContext } from '../steps';

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

/**
 * The requests about a subject, oldest first. A request closed because the run ended (then retried)
 * is as if it was never asked: the retried run asks again.
 */
export function requestsAbout(state: RunState, match: (s: RequestSubject) => boolean): HumanRequestState[] {
  return state.requests.filter((r) => r.status !== 'closed' && match(r.subject));
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
