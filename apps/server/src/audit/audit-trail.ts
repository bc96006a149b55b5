import type { AuditEntry, RunEvent } from '@parley/contracts';

/** Who decided what, when, on what information, and what the agents did next. */
export function auditTrail(events: RunEvent[]): AuditEntry[] {
  const entries = new Map<string, AuditEntry>();
  const awaitingNext: AuditEntry[] = [];
  for (const e of events) {
    for (const entry of awaitingNext.splice(0)) {
      entry.next.push({
        seq: e.seq,
        type: e.type,
        actor: `${e.actor.kind}:${e.actor.id}`,
        summary: summarize(e),
      });
      if (entry.next.length < 3) awaitingNext.push(entry);
    }
    switch (e.type) {
      case 'human-request.opened':
        entries.set(e.data.requestId, {
          requestId: e.data.requestId,
          kind: e.data.kind,
          title: e.data.title,
          ask: e.data.ask,
          shown: { payload: e.data.payload, payloadHash: e.data.payloadHash },
          roles: e.data.roles,
          opened: { seq: e.seq, at: e.at },
          claims: [],
          decisions: [],
          outcome: null,
          next: [],
        });
        break;
      case 'human-request.claimed':
        entries.get(e.data.requestId)?.claims.push({ by: e.data.by, seq: e.seq, at: e.at });
        break;
      case 'human-decision.recorded':
        entries.get(e.data.requestId)?.decisions.push({
          by: e.data.by,
          decision: e.data.decision,
          comment: e.data.comment ?? null,
          payloadHash: e.data.payloadHash,
          editedPayload: e.data.payload ?? null,
          seq: e.seq,
          at: e.at,
        });
        break;
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed': {
        const entry = entries.get(e.data.requestId);
        if (!entry) break;
        entry.outcome = {
          status:
            e.type === 'human-request.resolved'
              ? 'resolved'
              : e.type === 'human-request.expired'
                ? 'expired'
                : 'closed',
          outcome:
            e.type === 'human-request.resolved'
              ? e.data.outcome
              : e.type === 'human-request.expired'
                ? e.data.action
                : `run ${e.data.because}`,
          seq: e.seq,
          at: e.at,
        };
        awaitingNext.push(entry);
        break;
      }
      default:
        break;
    }
  }
  return [...entries.values()];
}

function summarize(e: RunEvent): string {
  switch (e.type) {
    case 'tool-call.started':
      return `tool call ${e.data.callId} started (key ${e.data.idempotencyKey})`;
    case 'tool-call.completed':
      return `tool call ${e.data.callId} completed: ${JSON.stringify(e.data.result).slice(0, 200)}`;
    case 'tool-call.rejected':
      return `tool call ${e.data.callId} not run: ${e.data.reason}`;
    case 'model-call.started':
      return `${e.data.agent} called (${e.data.purpose})`;
    case 'model-call.completed':
      return `${e.data.agent}: ${e.data.content.slice(0, 200)}`;
    case 'run.completed':
      return `run completed: ${e.data.output.slice(0, 200)}`;
    default:
      return e.type;
  }
}
