import type { Decision, NewEvent } from '@parley/contracts';
import {
  ConflictError,
  DECISIONS_NEEDING_COMMENT,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  canonicalJson,
} from '@parley/contracts';
import { closingOpenRequests } from './hitl/end-run';
import { askersOf } from './hitl/four-eyes';
import { actorOf, assertMay } from './hitl/permissions';
import { approvedHash, approves, latestVotes, shownPayload } from './hitl/payload';
import type { DecisionState, HumanRequestState, RunState } from './run-state';
import { isTerminal } from './run-state';

/** The kinds of identity a token may carry. Only a human decides, claims or speaks as a human. */
export type IdentityKind = 'human' | 'agent' | 'service';

/** Who acts, and which of the request's roles they hold (undefined: none). */
export interface Acting {
  id: string;
  roleFor: (roles: string[]) => string | undefined;
  isAdmin: boolean;
  /** Default `human`. An agent's or a service's identity is refused on every human path. */
  kind?: IdentityKind;
}

function mustBeHuman(who: Acting, what: string): void {
  const kind = who.kind ?? 'human';
  if (kind !== 'human') {
    throw new ForbiddenError(
      'AUTH.NOT_A_HUMAN',
      `${who.id} is not a human (its token is of kind "${kind}"): only a human may ${what}`,
      { id: who.id, kind },
    );
  }
}

function latestVoteBy(request: HumanRequestState, id: string): DecisionState | undefined {
  return [...request.votes].reverse().find((v) => v.by.id === id);
}

export interface DecisionInput {
  decision: Decision;
  comment?: string;
  payload?: unknown;
  /** The hash of what the human was shown; when given it must match the request's. */
  payloadHash?: string;
}

export type DecisionOutcome =
  | { status: 'recorded'; request: HumanRequestState; votes: number; quorum: number }
  | { status: 'resolved'; request: HumanRequestState }
  | { status: 'unchanged'; request: HumanRequestState };

const human = (id: string) => ({ kind: 'human', id }) as const;

function findRequest(state: RunState, requestId: string): HumanRequestState {
  const request = state.requests.find((r) => r.requestId === requestId);
  if (!request) throw new NotFoundError('REQUEST.NOT_FOUND', `no request ${requestId} in run ${state.runId}`);
  return request;
}

function entitled(request: HumanRequestState, who: Acting): string {
  const role = who.roleFor(request.roles);
  if (!role) {
    throw new ForbiddenError(
      'REQUEST.FORBIDDEN',
      `${who.id} may not answer this request: it is for ${request.roles.join(', ')}`,
    );
  }
  return role;
}

/**
 * A human's decision on a request, decided against the run's own state. Errors are coded and
 * append nothing; the same decision sent again appends nothing and reports the earlier outcome.
 * `validatePayload` checks an edited payload (tool arguments, a plan ...) before it is accepted.
 *
 * Binding: a decision may carry `payloadHash`, the hash of what the human was shown
 * (`shownPayload`). A different hash is refused (`REQUEST.STALE_PAYLOAD`). Without one, an
 * approving decision is taken to be about the payload as opened, so once an earlier vote edited
 * it, the hash is required (`REQUEST.PAYLOAD_HASH_REQUIRED`). Towards the quorum, each approval
 * counts for the version it approved: an edit after your approval means your vote no longer
 * counts, and you may vote again on the new version.
 */
export { shownPayload };

export function decideOnRequest(
  state: RunState,
  requestId: string,
  who: Acting,
  input: DecisionInput,
  now: Date,
  validatePayload: (request: HumanRequestState, payload: unknown) => void,
): { events: NewEvent[]; result: DecisionOutcome } {
  mustBeHuman(who, 'decide a request');
  const request = findRequest(state, requestId);
  const shown = shownPayload(request);
  const mine = latestVoteBy(request, who.id);
  if (
    mine &&
    mine.decision === input.decision &&
    (input.payloadHash === undefined || input.payloadHash === mine.payloadHash) &&
    (input.decision !== 'edit' || canonicalJson(input.payload) === canonicalJson(mine.payload))
  )
    return { events: [], result: { status: 'unchanged', request } };
  if (request.status === 'expired')
    throw new ConflictError('REQUEST.EXPIRED', `request ${requestId} expired at ${request.deadline}`);
  if (request.status === 'closed')
    throw new ConflictError(
      'REQUEST.CLOSED',
      `request ${requestId} was closed when its run ended (${state.status}); nothing is waiting for it`,
    );
  if (request.status === 'resolved')
    throw new ConflictError(
      'REQUEST.CLOSED',
      `request ${requestId} is already ${request.outcome === undefined ? 'closed' : `resolved (${request.outcome})`}`,
    );
  if (isTerminal(state.status))
    throw new ConflictError('RUN.ENDED', `run ${state.runId} has ended (${state.status})`);
  if (request.deadline && Date.parse(request.deadline) <= now.getTime()) {
    throw new ConflictError('REQUEST.EXPIRED', `request ${requestId} expired at ${request.deadline}`);
  }
  const role = entitled(request, who);
  // An approval of a version that has since been edited no longer counts: its author may vote again.
  const superseded =
    mine !== undefined &&
    approvedHash(request, mine) !== undefined &&
    approvedHash(request, mine) !== shown.payloadHash;
  if (mine && !superseded)
    throw new ConflictError(
      'REQUEST.ALREADY_DECIDED',
      `${who.id} already decided "${mine.decision}" on request ${requestId}`,
    );
  if (request.fourEyes && askersOf(state, request).has(who.id)) {
    throw new ForbiddenError(
      'REQUEST.FOUR_EYES',
      who.id === state.requestedBy || who.id === request.requester
        ? `four-eyes: ${who.id} started this run and may not approve its requests`
        : `four-eyes: ${who.id} asked for what this request is about (in this run, the run it was forked from, or by editing it), and may not approve it`,
    );
  }
  if (!request.decisions.includes(input.decision)) {
    throw new ValidationError(
      'REQUEST.DECISION_NOT_ALLOWED',
      `"${input.decision}" is not a decision for this ${request.kind} request (allowed: ${request.decisions.join(', ')})`,
      'decision',
    );
  }
  if (request.kind === 'escalation' && request.claimedBy && request.claimedBy.id !== who.id && !who.isAdmin) {
    throw new ConflictError(
      'REQUEST.CLAIMED_BY_OTHER',
      `request ${requestId} is claimed by ${request.claimedBy.id}`,
    );
  }
  if (input.payloadHash !== undefined && input.payloadHash !== shown.payloadHash) {
    throw new ConflictError(
      'REQUEST.STALE_PAYLOAD',
      'the payload you saw is not the one this request is about now; reload it',
      { payloadHash: input.payloadHash, current: shown.payloadHash },
    );
  }
  if (input.payloadHash === undefined && approves(input.decision) && shown.editedBy) {
    throw new ConflictError(
      'REQUEST.PAYLOAD_HASH_REQUIRED',
      `${shown.editedBy.id} edited the payload after the request opened: reload it and send its payloadHash with your decision`,
      { current: shown.payloadHash },
    );
  }
  if (DECISIONS_NEEDING_COMMENT.includes(input.decision) && !input.comment?.trim()) {
    throw new ValidationError(
      'REQUEST.COMMENT_REQUIRED',
      `"${input.decision}" needs a comment (the text for the agent)`,
      'comment',
    );
  }
  if (input.decision === 'edit') {
    if (input.payload === undefined)
      throw new ValidationError('REQUEST.PAYLOAD_REQUIRED', '"edit" needs the edited payload', 'payload');
    validatePayload(request, input.payload);
  }
  const by = { id: who.id, role };
  const vote: DecisionState = {
    decision: input.decision,
    by,
    comment: input.comment,
    payload: input.payload,
    payloadHash: shown.payloadHash,
    seq: 0,
    at: now.toISOString(),
  };
  const events: NewEvent[] = [
    {
      type: 'human-decision.recorded',
      actor: human(who.id),
      data: {
        requestId,
        decision: input.decision,
        by,
        comment: input.comment,
        payload: input.payload,
        payloadHash: shown.payloadHash,
      },
    },
  ];
  // An edit approves the edited payload: it is a vote towards the quorum like an approval, so
  // that one approver cannot settle a request that needs two by editing instead of approving.
  // Each decider's latest vote counts, and only for the version it approved.
  const latest = latestVotes([...request.votes, vote]);
  const approving = approves(input.decision);
  const target = approvedHash(request, vote);
  const approvers = latest.filter((v) => target !== undefined && approvedHash(request, v) === target);
  if (approving && approvers.length < request.quorum) {
    return {
      events,
      result: { status: 'recorded', request, votes: approvers.length, quorum: request.quorum },
    };
  }
  let outcome: Decision = input.decision;
  let payload = input.payload;
  let deciders = latest.filter((v) => v.decision === input.decision).map((v) => v.by);
  if (approving) {
    deciders = approvers.map((v) => v.by);
    const edit = [...request.votes, vote].reverse().find((v) => v.decision === 'edit');
    if (target !== request.payloadHash && edit) {
      outcome = 'edit';
      payload = edit.payload;
    } else if (input.decision === 'edit') {
      outcome = 'approve'; // edited back to what was opened
      payload = undefined;
    }
  }
  events.push({
    type: 'human-request.resolved',
    actor: human(who.id),
    data: { requestId, outcome, payload, comment: input.comment, deciders },
  });
  return { events, result: { status: 'resolved', request } };
}

export function claimRequest(
  state: RunState,
  requestId: string,
  who: Acting,
): { events: NewEvent[]; result: HumanRequestState } {
  mustBeHuman(who, 'claim a request');
  const request = findRequest(state, requestId);
  if (request.status !== 'open')
    throw new ConflictError('REQUEST.CLOSED', `request ${requestId} is ${request.status}`);
  const role = entitled(request, who);
  if (request.claimedBy?.id === who.id) return { events: [], result: request };
  if (request.claimedBy)
    throw new ConflictError(
      'REQUEST.CLAIMED_BY_OTHER',
      `request ${requestId} is claimed by ${request.claimedBy.id}`,
    );
  return {
    events: [
      {
        type: 'human-request.claimed',
        actor: human(who.id),
        data: { requestId, by: { id: who.id, role } },
      },
    ],
    result: request,
  };
}

/**
 * Hand a claimed request back. Only its claimer or an admin may; a request nobody holds is left
 * as it is (nothing to record), so a repeated hand-back is harmless.
 */
export function releaseRequest(state: RunState, requestId: string, who: Acting): NewEvent[] {
  mustBeHuman(who, 'hand a request back');
  const request = findRequest(state, requestId);
  if (request.status !== 'open')
    throw new ConflictError('REQUEST.CLOSED', `request ${requestId} is ${request.status}`);
  if (!request.claimedBy) return [];
  if (request.claimedBy.id !== who.id && !who.isAdmin)
    throw new ConflictError(
      'REQUEST.CLAIMED_BY_OTHER',
      `request ${requestId} is claimed by ${request.claimedBy.id}: only they or an admin may hand it back`,
    );
  const role = request.claimedBy.id === who.id ? request.claimedBy.role : 'admin';
  return [
    {
      type: 'human-request.released',
      actor: human(who.id),
      data: { requestId, by: { id: who.id, role } },
    },
  ];
}

/** Deadline passed: the system closes the request with its timeout action. */
export function expireRequest(state: RunState, requestId: string, now: Date): NewEvent[] {
  const request = state.requests.find((r) => r.requestId === requestId);
  if (!request || request.status !== 'open' || !request.deadline || isTerminal(state.status)) return [];
  if (Date.parse(request.deadline) > now.getTime()) return [];
  const action = request.onTimeout?.action ?? 'reject';
  return [
    {
      type: 'human-request.expired',
      actor: { kind: 'system', id: 'parley' },
      data: { requestId, action, escalateTo: request.onTimeout?.escalateTo },
    },
  ];
}

/** A human speaks in a run. With the floor open to them, the message answers that request. */
export function postMessage(state: RunState, who: Acting, text: string): NewEvent[] {
  mustBeHuman(who, 'speak in a run as a human');
  if (isTerminal(state.status))
    throw new ConflictError('RUN.ENDED', `run ${state.runId} has ended (${state.status})`);
  if (!text.trim()) throw new ValidationError('MESSAGE.EMPTY', 'the message is empty', 'text');
  const floor = state.requests.find((r) => r.status === 'open' && r.kind === 'input' && who.roleFor(r.roles));
  if (floor) {
    const by = { id: who.id, role: who.roleFor(floor.roles)! };
    return [
      {
        type: 'human-decision.recorded',
        actor: human(who.id),
        data: {
          requestId: floor.requestId,
          decision: 'answer',
          by,
          comment: text,
          payloadHash: floor.payloadHash,
        },
      },
      {
        type: 'human-request.resolved',
        actor: human(who.id),
        data: { requestId: floor.requestId, outcome: 'answer', comment: text, deciders: [by] },
      },
    ];
  }
  return [
    {
      type: 'human-message.posted',
      actor: human(who.id),
      data: { by: { id: who.id, role: who.roleFor(['participant']) ?? 'participant' }, text },
    },
  ];
}

/**
 * A human re-routes a handoff run to another agent (`permissions.override`, else the roles of the
 * open routing review, else participants). An open routing review is settled by it: the re-route is
 * recorded as that human's decision on it (an edit of the route), so the audit trail names them.
 */
export function overrideHandoff(state: RunState, who: Acting, to: string, reason: string): NewEvent[] {
  mustBeHuman(who, 're-route a run');
  const wf = state.workflow;
  if (wf.pattern !== 'handoff')
    throw new ValidationError(
      'HANDOFF.NOT_A_HANDOFF_RUN',
      `run ${state.runId} is a ${wf.pattern} run, not a handoff run`,
      'runId',
    );
  if (isTerminal(state.status))
    throw new ConflictError('RUN.ENDED', `run ${state.runId} has ended (${state.status})`);
  const role = assertMay(state, who, 'override');
  const agents = [wf.triage, ...wf.specialists];
  if (!agents.includes(to))
    throw new ValidationError(
      'HANDOFF.UNKNOWN_AGENT',
      `"${to}" is not an agent of ${wf.name} (${agents.join(', ')})`,
      'to',
    );
  if (!reason.trim()) throw new ValidationError('HANDOFF.REASON_REQUIRED', 'say why you re-route', 'reason');
  if (state.currentAgent === to)
    throw new ConflictError('HANDOFF.ALREADY_THERE', `${to} already holds the conversation`);
  const by = { id: who.id, role };
  const actor = actorOf(who, role);
  const events: NewEvent[] = [{ type: 'handoff.overridden', actor, data: { by, to, reason } }];
  for (const r of state.requests) {
    if (r.status === 'open' && r.subject.type === 'route') {
      const payload = { to };
      events.push(
        {
          type: 'human-decision.recorded',
          actor,
          data: {
            requestId: r.requestId,
            decision: 'edit',
            by,
            comment: reason,
            payload,
            payloadHash: shownPayload(r).payloadHash,
          },
        },
        {
          type: 'human-request.resolved',
          actor,
          data: { requestId: r.requestId, outcome: 'edit', payload, comment: reason, deciders: [by] },
        },
      );
    }
  }
  return events;
}

/**
 * Cancel a run (`permissions.cancel`, default the requester and approvers), attributed to whoever
 * did it: a human, an agent's or a service's token, with the role they acted under. Its open
 * requests are closed in the same append.
 */
export function cancelRun(state: RunState, who: Acting, reason?: string): NewEvent[] {
  if (isTerminal(state.status))
    throw new ConflictError('RUN.ENDED', `run ${state.runId} has already ended (${state.status})`);
  const role = assertMay(state, who, 'cancel');
  const by = actorOf(who, role);
  return closingOpenRequests(state, [
    { type: 'run.cancelled', actor: by, data: { reason: reason ?? `cancelled by ${who.id}`, by } },
  ]);
}
