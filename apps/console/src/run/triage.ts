import { dataOf, requestHistories, who, type RunEventLike } from './run-events';

/** A handoff run's routing: each decision of the triage (or a specialist), each human review and re-route. */
export interface RoutingStep {
  seq: number;
  at: string;
  kind: 'handoff' | 'review' | 'override';
  from?: string;
  to: string;
  reason: string;
  /** Who: the agent that handed off, or the human who reviewed or re-routed. */
  by: string;
  /** A review's outcome: `approve` (kept), `edit` (re-routed), ... */
  outcome?: string;
}

export interface Triage {
  triage: string;
  steps: RoutingStep[];
  /** Whom the conversation is with now: the last handoff's or re-route's target. */
  current: string | null;
  overrides: number;
}

export function triage(events: readonly RunEventLike[]): Triage | null {
  const started = events.find((e) => e.type === 'run.started');
  const workflow = started && dataOf(started, 'run.started')?.workflow;
  if (!workflow || workflow.pattern !== 'handoff') return null;
  const steps: RoutingStep[] = [];
  let current: string | null = null;
  for (const e of events) {
    const handoff = dataOf(e, 'handoff.performed');
    const override = dataOf(e, 'handoff.overridden');
    if (handoff) {
      steps.push({
        seq: e.seq,
        at: e.at,
        kind: 'handoff',
        from: handoff.from,
        to: handoff.to,
        reason: handoff.reason,
        by: e.actor.id,
      });
      current = handoff.to;
    }
    if (override) {
      steps.push({
        seq: e.seq,
        at: e.at,
        kind: 'override',
        from: current ?? undefined,
        to: override.to,
        reason: override.reason,
        by: who(override.by),
      });
      current = override.to;
    }
  }
  for (const r of requestHistories(events)) {
    if (r.subject.type !== 'route' || r.status === 'open') continue;
    const last = r.decisions[r.decisions.length - 1];
    const to = (last?.payload as { to?: string } | undefined)?.to;
    steps.push({
      seq: last?.seq ?? r.openedSeq,
      at: r.endedAt ?? r.openedAt,
      kind: 'review',
      to: to ?? (r.title.split('→').pop() ?? '').trim(),
      reason: last?.comment ?? r.title,
      by: (r.deciders.length ? r.deciders : r.decisions.map((d) => d.by)).map(who).join(', ') || 'nobody',
      ...(r.outcome ? { outcome: r.outcome } : {}),
    });
  }
  steps.sort((a, b) => a.seq - b.seq || (a.kind === 'override' ? -1 : 1));
  return {
    triage: workflow.triage,
    steps,
    current,
    overrides: steps.filter((s) => s.kind === 'override').length,
  };
}
