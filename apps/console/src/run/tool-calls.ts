import { dataOf, requestHistories, type HumanRef, type RunEventLike } from './run-events';

/** One tool call: what was asked with which arguments, who let it run on which payload hash, what came back. */
export interface ToolCallCard {
  callId: string;
  tool: string;
  agent: string;
  args: unknown;
  /** SHA-256 of the canonical `{tool, args}`: what an approval is bound to. */
  argsHash: string;
  status: 'requested' | 'started' | 'completed' | 'failed' | 'rejected';
  result?: unknown;
  error?: string;
  attempts: number;
  requestedAt: string;
  /** The human gates on this call (an approval, a confirmation, an escalation, a reconcile). */
  gates: Array<{
    requestId: string;
    kind: string;
    title: string;
    status: string;
    outcome: string | null;
    /** The hash of the payload the deciders were shown. */
    payloadHash: string;
    /** That payload is the call itself: the hash equals the call's `argsHash`. */
    boundToCall: boolean;
    decisions: Array<{
      by: HumanRef;
      decision: string;
      comment?: string;
      payloadHash: string;
      /** The decision was taken on what was shown (its hash is the request's). */
      onShownPayload: boolean;
      at: string;
    }>;
  }>;
}

export function toolCallCards(events: readonly RunEventLike[]): ToolCallCard[] {
  const cards = new Map<string, ToolCallCard>();
  for (const e of events) {
    const requested = dataOf(e, 'tool-call.requested');
    if (requested) {
      cards.set(requested.callId, {
        callId: requested.callId,
        tool: requested.tool,
        agent: requested.agent,
        args: requested.args,
        argsHash: requested.argsHash,
        status: 'requested',
        attempts: 0,
        requestedAt: e.at,
        gates: [],
      });
      continue;
    }
    const id = (e.data as { callId?: unknown } | null)?.callId;
    const card = typeof id === 'string' ? cards.get(id) : undefined;
    if (!card) continue;
    const completed = dataOf(e, 'tool-call.completed');
    const failed = dataOf(e, 'tool-call.failed');
    const rejected = dataOf(e, 'tool-call.rejected');
    if (e.type === 'tool-call.started') {
      card.status = 'started';
      card.attempts = Math.max(card.attempts, 1);
    } else if (e.type === 'tool-call.retried') card.attempts++;
    else if (completed) Object.assign(card, { status: 'completed', result: completed.result });
    else if (failed)
      Object.assign(card, {
        status: 'failed',
        error: `${failed.code}: ${failed.message}`,
        attempts: failed.attempts ?? card.attempts,
      });
    else if (rejected) Object.assign(card, { status: 'rejected', error: rejected.reason });
  }
  for (const r of requestHistories(events)) {
    if (r.subject.type !== 'tool-call') continue;
    const card = cards.get(r.subject.callId);
    if (!card) continue;
    card.gates.push({
      requestId: r.requestId,
      kind: r.kind,
      title: r.title,
      status: r.status,
      outcome: r.outcome,
      payloadHash: r.payloadHash,
      boundToCall: r.payloadHash === card.argsHash,
      decisions: r.decisions.map((d) => ({
        by: d.by,
        decision: d.decision,
        ...(d.comment ? { comment: d.comment } : {}),
        payloadHash: d.payloadHash,
        onShownPayload: d.payloadHash === r.payloadHash,
        at: d.at,
      })),
    });
  }
  return [...cards.values()];
}
