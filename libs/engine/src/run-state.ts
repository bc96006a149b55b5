/*
 * A run's state and its fold (about 400 lines, on purpose: \`evolve\` is one exhaustive switch over every
 * event type, which the compiler checks; the view of a run for clients is in run-view.ts).
 */
import type { EventData, HumanRef, HumanRequestKind, RunEvent, ToolCall, Workflow } from '@parley/contracts';

export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/** The failed attempts of a call still open (its `*.retried` facts): the bound holds across restarts. */
export interface CallRetries {
  failed: number;
  /** When the next attempt is due (the last failure's time plus its delay). */
  nextAttemptAt: string;
}

export interface ModelCallState {
  callId: string;
  agent: string;
  purpose: string;
  status: 'started' | 'completed' | 'failed';
  content: string;
  toolCalls: ToolCall[];
  structured?: unknown;
  seq: number;
  /** Set once an attempt failed transiently and the call is tried again. */
  retries?: CallRetries;
}

export interface ToolCallState {
  callId: string;
  agent: string;
  tool: string;
  args: unknown;
  argsHash: string;
  idempotencyKey: string;
  status: 'requested' | 'started' | 'completed' | 'failed' | 'rejected';
  result?: unknown;
  error?: string;
  seq: number;
  /** Set once an attempt failed transiently and the call is run again (same idempotency key). */
  retries?: CallRetries;
  /** The seq of its latest `tool-call.started` (a human may have had it run again: tools/reconcile.ts). */
  startedSeq?: number;
}

export interface DecisionState {
  decision: EventData<'human-decision.recorded'>['decision'];
  by: HumanRef;
  comment?: string;
  payload?: unknown;
  /** The hash of what this decider was shown (the request's payload as it stood, edits included). */
  payloadHash?: string;
  seq: number;
  at: string;
}

export type HumanRequestState = EventData<'human-request.opened'> & {
  /** `closed`: the run ended while it was open (no decision; it left the inbox). */
  status: 'open' | 'resolved' | 'expired' | 'closed';
  openedSeq: number;
  openedAt: string;
  claimedBy?: HumanRef;
  /** Decisions recorded so far (several when a quorum is needed). */
  votes: DecisionState[];
  outcome?: EventData<'human-decision.recorded'>['decision'];
  outcomePayload?: unknown;
  outcomeComment?: string;
  expiredAction?: EventData<'human-request.expired'>['action'];
  closedSeq?: number;
};

export interface TranscriptEntry {
  seq: number;
  at: string;
  role: 'agent' | 'human' | 'tool' | 'system';
  speaker: string;
  content: string;
}

/** A run's state: nothing but a fold of its events. Plain data, so it serialises deterministically. */
export interface RunState {
  runId: string;
  seq: number;
  status: RunStatus;
  workflow: Workflow;
  input: string;
  requestedBy: string;
  /**
   * Every human who asked for something in this run or along its lineage: the starter, the forkers,
   * the original's askers, whoever posted a message. Four-eyes refuses their approvals.
   */
  askers: string[];
  startedAt: string;
  updatedAt: string;
  modelCalls: ModelCallState[];
  toolCalls: ToolCallState[];
  requests: HumanRequestState[];
  transcript: TranscriptEntry[];
  plans: Array<EventData<'plan.recorded'> & { seq: number }>;
  ledgers: Array<EventData<'ledger.updated'> & { seq: number }>;
  escalations: Array<EventData<'escalation.raised'> & { seq: number }>;
  /** handoff: who holds the conversation now. */
  currentAgent?: string;
  handoffs: Array<{ from: string; to: string; reason: string; by: 'agent' | 'human'; seq: number }>;
  speakers: Array<{ speaker: string; seq: number }>;
  output?: string;
  failure?: { code: string; message: string };
  /** Each time the failed run was continued (`run.retried`): failures before the last one are settled. */
  retried?: Array<EventData<'run.retried'> & { seq: number }>;
  /** Set when the run came into this log from an export: who imported it, and the head it had. */
  imported?: EventData<'run.imported'> & { seq: number };
}

export function isTerminal(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** Fold a whole stream. The first event must be `run.started`. */
export function foldRun(events: readonly RunEvent[]): RunState | undefined {
  let state: RunState | undefined;
  for (const event of events) state = evolve(state, event);
  return state;
}

export function evolve(state: RunState | undefined, event: RunEvent): RunState {
  if (event.type === 'run.started') {
    if (state)
      throw new Error(`run.started at seq ${event.seq}, but the run ${event.runId} has already started`);
    return {
      runId: event.runId,
      seq: event.seq,
      status: 'running',
      workflow: event.data.workflow,
      input: event.data.input,
      requestedBy: event.data.requestedBy,
      askers: [...new Set([...(event.data.forkOf?.askers ?? []), event.data.requestedBy])],
      startedAt: event.at,
      updatedAt: event.at,
      modelCalls: [],
      toolCalls: [],
      requests: [],
      transcript: [
        {
          seq: event.seq,
          at: event.at,
          role: 'human',
          speaker: event.data.requestedBy,
          content: event.data.input,
        },
      ],
      plans: [],
      ledgers: [],
      escalations: [],
      handoffs: [],
      speakers: [],
      currentAgent: event.data.workflow.pattern === 'handoff' ? event.data.workflow.triage : undefined,
    };
  }
  if (!state) throw new Error(`${event.type} at seq ${event.seq} before run.started`);
  // The accumulator is owned by the fold: updating it in place keeps a long replay linear.
  const s = state;
  s.seq = event.seq;
  s.updatedAt = event.at;
  const say = (role: TranscriptEntry['role'], speaker: string, content: string): void => {
    s.transcript.push({ seq: event.seq, at: event.at, role, speaker, content });
  };
  switch (event.type) {
    case 'run.completed':
      s.status = 'completed';
      s.output = event.data.output;
      break;
    case 'run.failed':
      s.status = 'failed';
      s.failure = { code: event.data.code, message: event.data.message };
      break;
    case 'run.retried':
      // The run continues from its failed step: running again, the failure it came from settled.
      s.status = 'running';
      s.failure = undefined;
      (s.retried ??= []).push({ ...event.data, seq: event.seq });
      break;
    case 'run.imported':
      s.imported = { ...event.data, seq: event.seq };
      break;
    case 'run.cancelled':
      s.status = 'cancelled';
      s.failure = { code: 'CANCELLED', message: event.data.reason ?? 'cancelled' };
      break;
    case 'model-call.started':
      s.modelCalls.push({
        callId: event.data.callId,
        agent: event.data.agent,
        purpose: event.data.purpose,
        status: 'started',
        content: '',
        toolCalls: [],
        seq: event.seq,
      });
      break;
    case 'model-call.completed': {
      const d = event.data;
      s.modelCalls = replace(
        s.modelCalls,
        (c) => c.callId === d.callId,
        (c) => ({
          ...c,
          status: 'completed',
          content: d.content,
          toolCalls: d.toolCalls,
          structured: d.structured,
          seq: event.seq,
        }),
      );
      if (d.content && d.structured === undefined) say('agent', d.agent, d.content);
      break;
    }
    case 'model-call.failed':
      s.modelCalls = replace(
        s.modelCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, status: 'failed' }),
      );
      break;
    case 'model-call.retried': {
      const retries = retriesAfter(event.at, event.data);
      s.modelCalls = replace(
        s.modelCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, retries }),
      );
      break;
    }
    case 'tool-call.requested':
      s.toolCalls.push({ ...event.data, status: 'requested', seq: event.seq });
      break;
    case 'tool-call.started':
      s.toolCalls = replace(
        s.toolCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, status: 'started', startedSeq: event.seq }),
      );
      break;
    case 'tool-call.completed': {
      const d = event.data;
      s.toolCalls = replace(
        s.toolCalls,
        (c) => c.callId === d.callId,
        (c) => ({ ...c, status: 'completed', result: d.result }),
      );
      const call = s.toolCalls.find((c) => c.callId === d.callId);
      say('tool', call?.tool ?? 'tool', JSON.stringify(d.result));
      break;
    }
    case 'tool-call.failed':
      s.toolCalls = replace(
        s.toolCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, status: 'failed', error: event.data.message }),
      );
      break;
    case 'tool-call.retried': {
      const retries = retriesAfter(event.at, event.data);
      s.toolCalls = replace(
        s.toolCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, retries }),
      );
      break;
    }
    case 'tool-call.rejected':
      s.toolCalls = replace(
        s.toolCalls,
        (c) => c.callId === event.data.callId,
        (c) => ({ ...c, status: 'rejected', error: event.data.reason }),
      );
      break;
    case 'human-request.opened':
      s.requests.push({ ...event.data, status: 'open', openedSeq: event.seq, openedAt: event.at, votes: [] });
      break;
    case 'human-request.claimed':
      s.requests = replace(
        s.requests,
        (r) => r.requestId === event.data.requestId,
        (r) => ({ ...r, claimedBy: event.data.by }),
      );
      break;
    case 'human-request.released':
      s.requests = replace(
        s.requests,
        (r) => r.requestId === event.data.requestId,
        (r) => ({ ...r, claimedBy: undefined }),
      );
      break;
    case 'human-decision.recorded': {
      const d = event.data;
      s.requests = replace(
        s.requests,
        (r) => r.requestId === d.requestId,
        (r) => ({
          ...r,
          votes: [
            ...r.votes,
            {
              decision: d.decision,
              by: d.by,
              comment: d.comment,
              payload: d.payload,
              payloadHash: d.payloadHash,
              seq: event.seq,
              at: event.at,
            },
          ],
        }),
      );
      const request = s.requests.find((r) => r.requestId === d.requestId);
      const answers = d.decision === 'answer' || d.decision === 'handback';
      if ((request?.kind === 'input' || request?.kind === 'escalation') && answers && d.comment)
        say('human', d.by.id, d.comment);
      break;
    }
    case 'human-request.resolved':
      s.requests = replace(
        s.requests,
        (r) => r.requestId === event.data.requestId,
        (r) => ({
          ...r,
          status: 'resolved',
          outcome: event.data.outcome,
          outcomePayload: event.data.payload,
          outcomeComment: event.data.comment,
          closedSeq: event.seq,
        }),
      );
      break;
    case 'human-request.expired':
      s.requests = replace(
        s.requests,
        (r) => r.requestId === event.data.requestId,
        (r) => ({
          ...r,
          status: 'expired',
          expiredAction: event.data.action,
          closedSeq: event.seq,
        }),
      );
      break;
    case 'human-request.closed':
      s.requests = replace(
        s.requests,
        (r) => r.requestId === event.data.requestId,
        (r) => ({ ...r, status: 'closed', closedSeq: event.seq }),
      );
      break;
    case 'human-message.posted':
      say('human', event.data.by.id, event.data.text);
      if (!s.askers.includes(event.data.by.id)) s.askers.push(event.data.by.id);
      break;
    case 'handoff.overridden':
      s.handoffs.push({
        from: s.currentAgent ?? '',
        to: event.data.to,
        reason: event.data.reason,
        by: 'human',
        seq: event.seq,
      });
      s.currentAgent = event.data.to;
      say('system', event.data.by.id, `re-routed to ${event.data.to}: ${event.data.reason}`);
      break;
    case 'handoff.performed':
      s.handoffs.push({ ...event.data, by: 'agent', seq: event.seq });
      s.currentAgent = event.data.to;
      break;
    case 'escalation.raised':
      s.escalations.push({ ...event.data, seq: event.seq });
      break;
    case 'plan.recorded':
      s.plans.push({ ...event.data, seq: event.seq });
      break;
    case 'ledger.updated':
      s.ledgers.push({ ...event.data, seq: event.seq });
      break;
    case 'speaker.selected':
      s.speakers.push({ speaker: event.data.speaker, seq: event.seq });
      break;
    default: {
      const unreachable: never = event;
      throw new Error(`unhandled event ${(unreachable as RunEvent).type}`);
    }
  }
  s.status = statusOf(s);
  return s;
}

function retriesAfter(at: string, retried: { attempt: number; delayMs: number }): CallRetries {
  return {
    failed: retried.attempt,
    nextAttemptAt: new Date(Date.parse(at) + retried.delayMs).toISOString(),
  };
}

function statusOf(s: RunState): RunStatus {
  if (isTerminal(s.status)) return s.status;
  return s.requests.some((r) => r.status === 'open') ? 'waiting' : 'running';
}

/** Update the last item that matches, in place. */
function replace<T>(items: T[], match: (item: T) => boolean, update: (item: T) => T): T[] {
  for (let i = items.length - 1; i >= 0; i--) {
    if (match(items[i])) {
      items[i] = update(items[i]);
      break;
    }
  }
  return items;
}

export function openRequests(state: RunState): HumanRequestState[] {
  return state.requests.filter((r) => r.status === 'open');
}

export function requestKindOf(state: RunState, requestId: string): HumanRequestKind | undefined {
  return state.requests.find((r) => r.requestId === requestId)?.kind;
}
