import type { Decision } from '@parley/contracts';
import { sha256 } from '../patterns/shared';
import type { DecisionState, HumanRequestState } from '../run-state';

/** Approve, confirm and edit apply the payload (an edit approves its own version of it). */
export const approves = (d: Decision | undefined): boolean =>
  d === 'approve' || d === 'confirm' || d === 'edit';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** An edit replaces the top-level fields it names (a tool call's `args`, a draft ...). */
export function applyEdit(payload: unknown, edit: unknown): unknown {
  return isRecord(payload) && isRecord(edit) ? { ...payload, ...edit } : edit;
}

/**
 * What a decider is shown now, and its hash: the payload as opened or, once an approver has edited
 * it (a quorum of 2 or more), as the latest edit left it. A decision is bound to this hash.
 */
export function shownPayload(request: HumanRequestState): {
  payload: unknown;
  payloadHash: string;
  editedBy: DecisionState['by'] | null;
} {
  const edit = [...request.votes].reverse().find((v) => v.decision === 'edit');
  if (!edit) return { payload: request.payload, payloadHash: request.payloadHash, editedBy: null };
  const payload = applyEdit(request.payload, edit.payload);
  return { payload, payloadHash: sha256(payload), editedBy: edit.by };
}

/** The hash of the payload a vote approved (undefined: the vote does not approve). */
export function approvedHash(request: HumanRequestState, vote: DecisionState): string | undefined {
  if (!approves(vote.decision)) return undefined;
  if (vote.decision === 'edit') return sha256(applyEdit(request.payload, vote.payload));
  return vote.payloadHash ?? request.payloadHash;
}

/** Each decider's latest vote, in the order of those votes. */
export function latestVotes(votes: readonly DecisionState[]): DecisionState[] {
  const latest = new Map<string, DecisionState>();
  for (const v of votes) {
    latest.delete(v.by.id);
    latest.set(v.by.id, v);
  }
  return [...latest.values()];
}

/**
 * The payload a resolved request settled on: as opened for an approval, with the edit applied for
 * an edit. Computed from the payload itself, never from a stored hash.
 */
export function settledPayload(request: HumanRequestState): unknown {
  return request.status === 'resolved' && request.outcome === 'edit'
    ? applyEdit(request.payload, request.outcomePayload)
    : request.payload;
}
