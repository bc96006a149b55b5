import type { AuditAction, RunEvent } from '@parley/contracts';

/**
 * Who started, forked, cancelled, imported, retried, re-routed or claimed, from the log alone: the
 * actor as recorded (human, agent or service, with id and role) and their note. A run started or
 * cancelled before actions were attributed shows the envelope's actor.
 */
export function runActions(events: RunEvent[]): AuditAction[] {
  const actions: AuditAction[] = [];
  for (const e of events) {
    const base = { type: e.type, seq: e.seq, at: e.at };
    switch (e.type) {
      case 'run.started': {
        const fork = e.data.forkOf;
        actions.push({
          ...base,
          type: e.type,
          by: fork?.by ?? e.actor,
          ...(fork?.note ? { note: fork.note } : {}),
          ...(fork ? { forkOf: { runId: fork.runId, atSeq: fork.atSeq } } : {}),
        });
        break;
      }
      case 'run.cancelled':
        if (e.actor.kind === 'system') break; // Parley's own (a runaway loop's end), not an action
        actions.push({
          ...base,
          type: e.type,
          by: e.data.by ?? e.actor,
          ...(e.data.reason ? { note: e.data.reason } : {}),
        });
        break;
      case 'run.imported':
        actions.push({ ...base, type: e.type, by: e.data.by, ...(e.data.note ? { note: e.data.note } : {}) });
        break;
      case 'run.retried':
        actions.push({
          ...base,
          type: e.type,
          by: e.data.by,
          ...(e.data.reason ? { note: e.data.reason } : {}),
        });
        break;
      case 'handoff.overridden':
        actions.push({
          ...base,
          type: e.type,
          by: { kind: e.actor.kind, id: e.data.by.id, role: e.data.by.role },
          note: e.data.reason,
          to: e.data.to,
        });
        break;
      case 'human-request.claimed':
      case 'human-request.released':
        actions.push({
          ...base,
          type: e.type,
          by: { kind: 'human', id: e.data.by.id, role: e.data.by.role },
          requestId: e.data.requestId,
        });
        break;
      default:
        break;
    }
  }
  return actions;
}
