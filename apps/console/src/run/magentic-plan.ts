import { dataOf, requestHistories, who, type RunEventLike } from './run-events';

/** A magentic run's plan, revision by revision, with what its reviewer said, and the progress ledger. */
export interface PlanRevision {
  revision: number;
  source: 'manager' | 'human';
  facts: string;
  steps: Array<{ agent: string; task: string }>;
  seq: number;
  at: string;
  /** The human review of this revision, when the workflow asks for one. */
  review: { status: string; outcome: string | null; by: string[]; comment?: string } | null;
}

export interface LedgerEntry {
  seq: number;
  at: string;
  satisfied: boolean;
  progressing: boolean;
  looping: boolean;
  nextSpeaker: string;
  instruction: string;
  reason: string;
}

export interface MagenticPlan {
  revisions: PlanRevision[];
  /** The revision the run follows: the last one recorded (edited, approved or still under review). */
  current: number | null;
  ledger: LedgerEntry[];
  /** How many ledger entries said that no progress was made (a stall; too many end the run). */
  stalls: number;
}

export function magenticPlan(events: readonly RunEventLike[]): MagenticPlan | null {
  const revisions: PlanRevision[] = [];
  const ledger: LedgerEntry[] = [];
  for (const e of events) {
    const plan = dataOf(e, 'plan.recorded');
    if (plan)
      revisions.push({
        revision: plan.revision,
        source: plan.source,
        facts: plan.facts,
        steps: plan.steps,
        seq: e.seq,
        at: e.at,
        review: null,
      });
    const entry = dataOf(e, 'ledger.updated');
    if (entry)
      ledger.push({
        seq: e.seq,
        at: e.at,
        satisfied: entry.is_request_satisfied,
        progressing: entry.is_progress_being_made,
        looping: entry.is_in_loop,
        nextSpeaker: entry.next_speaker,
        instruction: entry.instruction,
        reason: entry.reason,
      });
  }
  if (revisions.length === 0 && ledger.length === 0) return null;
  for (const r of requestHistories(events)) {
    if (r.subject.type !== 'plan') continue;
    const revision = r.subject.revision;
    // the last revision of that number (a human's edit records the same number again, source human)
    const target = [...revisions].reverse().find((p) => p.revision === revision && p.seq < r.openedSeq);
    if (!target) continue;
    const comment = r.decisions.find((d) => d.comment)?.comment;
    target.review = {
      status: r.status,
      outcome: r.outcome,
      by: (r.deciders.length ? r.deciders : r.decisions.map((d) => d.by)).map(who),
      ...(comment ? { comment } : {}),
    };
  }
  return {
    revisions,
    current: revisions.length ? revisions[revisions.length - 1].revision : null,
    ledger,
    stalls: ledger.filter((l) => !l.progressing).length,
  };
}
