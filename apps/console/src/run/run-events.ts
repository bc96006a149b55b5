import type { EventData, EventType } from '@parley/contracts/events/registry';
import type { Workflow } from '@parley/contracts/workflow/workflow.schema';

/**
 * The few fields of a run's events that the run page's view models read (a RunEvent of
 * `@parley/client` has them all). Pure helpers, no DOM and no React: the models are unit-tested on
 * the event logs of real runs (test/console/fixtures/).
 */
export interface RunEventLike {
  seq: number;
  type: string;
  at: string;
  actor: { kind: string; id: string; role?: string };
  data: unknown;
}

export type { Workflow };
export type Subject = EventData<'human-request.opened'>['subject'];

export const ENDED_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** The event's data typed by its type, when it is of that type. */
export function dataOf<T extends EventType>(event: RunEventLike, type: T): EventData<T> | undefined {
  return event.type === type ? (event.data as EventData<T>) : undefined;
}

/** A human as the log names one: `{id, role}`. */
export interface HumanRef {
  id: string;
  role?: string;
}

export const who = (ref: HumanRef): string => (ref.role ? `${ref.id} (${ref.role})` : ref.id);

export interface RequestDecision {
  seq: number;
  at: string;
  by: HumanRef;
  decision: string;
  comment?: string;
  payload?: unknown;
  payloadHash: string;
}

/** A human request as its events tell it: opened, decided, then resolved, expired or closed. */
export interface RequestHistory {
  requestId: string;
  kind: string;
  subject: Subject;
  title: string;
  roles: string[];
  payload: unknown;
  payloadHash: string;
  openedSeq: number;
  openedAt: string;
  decisions: RequestDecision[];
  status: 'open' | 'resolved' | 'expired' | 'closed';
  outcome: string | null;
  endedAt: string | null;
  deciders: HumanRef[];
}

/** Every human request of the run, in the order they were opened. */
export function requestHistories(events: readonly RunEventLike[]): RequestHistory[] {
  const byId = new Map<string, RequestHistory>();
  for (const e of events) {
    const opened = dataOf(e, 'human-request.opened');
    if (opened) {
      byId.set(opened.requestId, {
        requestId: opened.requestId,
        kind: opened.kind,
        subject: opened.subject,
        title: opened.title,
        roles: opened.roles,
        payload: opened.payload,
        payloadHash: opened.payloadHash,
        openedSeq: e.seq,
        openedAt: e.at,
        decisions: [],
        status: 'open',
        outcome: null,
        endedAt: null,
        deciders: [],
      });
      continue;
    }
    const id = (e.data as { requestId?: unknown } | null)?.requestId;
    const r = typeof id === 'string' ? byId.get(id) : undefined;
    if (!r) continue;
    const decided = dataOf(e, 'human-decision.recorded');
    const resolved = dataOf(e, 'human-request.resolved');
    const expired = dataOf(e, 'human-request.expired');
    const closed = dataOf(e, 'human-request.closed');
    if (decided) {
      r.decisions.push({
        seq: e.seq,
        at: e.at,
        by: decided.by,
        decision: decided.decision,
        ...(decided.comment !== undefined ? { comment: decided.comment } : {}),
        ...(decided.payload !== undefined ? { payload: decided.payload } : {}),
        payloadHash: decided.payloadHash,
      });
    } else if (resolved) {
      Object.assign(r, {
        status: 'resolved',
        outcome: resolved.outcome,
        endedAt: e.at,
        deciders: resolved.deciders,
      });
    } else if (expired) {
      Object.assign(r, { status: 'expired', outcome: `expired (${expired.action})`, endedAt: e.at });
    } else if (closed) {
      Object.assign(r, { status: 'closed', outcome: `closed (run ${closed.because})`, endedAt: e.at });
    }
  }
  return [...byId.values()];
}

/** The workflow frozen in the run's `run.started` (what the run follows, whatever the file says now). */
export function startedWorkflow(events: readonly RunEventLike[]): Workflow | null {
  for (const e of events) {
    const started = dataOf(e, 'run.started');
    if (started) return started.workflow;
  }
  return null;
}

/** The run's status from its events alone (the page has the server's too; this is for the models). */
export function statusOf(events: readonly RunEventLike[]): string {
  let status = 'running';
  let open = 0;
  for (const e of events) {
    if (e.type === 'human-request.opened') open++;
    else if (/^human-request\.(resolved|expired|closed)$/.test(e.type)) open = Math.max(0, open - 1);
    else if (e.type === 'run.completed') status = 'completed';
    else if (e.type === 'run.failed') status = 'failed';
    else if (e.type === 'run.cancelled') status = 'cancelled';
    else if (e.type === 'run.retried') status = 'running';
  }
  return status === 'running' && open > 0 ? 'waiting' : status;
}
