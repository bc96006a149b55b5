import type { RunEvent, RunTraceContext } from '@parley/contracts';

/** An agent's turn: its model calls of one purpose until an answer that calls no tool. */
export interface TurnTrail {
  agent: string;
  purpose: string;
  /** The `model-call.started` that opened the turn: its event id seeds the turn's span id. */
  openedBy: string;
  at: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

export interface ModelCallTrail {
  agent: string;
  purpose: string;
  model: string;
  at: string;
  turn?: TurnTrail;
}

export interface ToolCallTrail {
  tool: string;
  agent: string;
  args: unknown;
  /** When it began to run (`tool-call.started`); absent while it waits at a gate. */
  startedAt?: string;
  turn?: TurnTrail;
}

export interface RequestTrail {
  kind: string;
  roles: string[];
  payloadHash: string;
  at: string;
  /** The turn whose tool call the request gates, if any (its span is the request span's parent). */
  turn?: TurnTrail;
  tier: number;
}

/**
 * What observing a run needs to remember about it between events: the calls, turns and human
 * requests that are open, with when they opened. It is a fold of the run's own events, so an
 * instance that first sees a run mid-way (after a restart, or a run that moved to it) rebuilds it
 * from the log (`RunObserver`), and metrics and spans come out the same as if it had seen it all.
 */
export class RunTrail {
  workflow = 'unknown';
  startedAt?: string;
  trace?: RunTraceContext;
  readonly modelCalls = new Map<string, ModelCallTrail>();
  readonly turns = new Map<string, TurnTrail>();
  readonly toolCalls = new Map<string, ToolCallTrail>();
  readonly requests = new Map<string, RequestTrail>();

  constructor(readonly runId: string) {}

  /** The open turn of an agent (any purpose): its tool calls and their gates belong to it. */
  turnOf(agent: string): TurnTrail | undefined {
    for (const turn of this.turns.values()) if (turn.agent === agent) return turn;
    return undefined;
  }

  apply(event: RunEvent): void {
    switch (event.type) {
      case 'run.started':
        this.workflow = event.data.workflow.name;
        this.startedAt = event.at;
        this.trace = event.data.trace;
        return;
      case 'model-call.started': {
        const key = turnKey(event.data.agent, event.data.purpose);
        let turn = this.turns.get(key);
        if (!turn) {
          turn = {
            agent: event.data.agent,
            purpose: event.data.purpose,
            openedBy: event.eventId,
            at: event.at,
            calls: 0,
            inputTokens: 0,
            outputTokens: 0,
          };
          this.turns.set(key, turn);
        }
        turn.calls += 1;
        this.modelCalls.set(event.data.callId, { ...event.data, at: event.at, turn });
        return;
      }
      case 'model-call.completed': {
        const call = this.modelCalls.get(event.data.callId);
        this.modelCalls.delete(event.data.callId);
        const turn = call?.turn;
        if (turn) {
          turn.inputTokens += event.data.usage?.promptTokens ?? 0;
          turn.outputTokens += event.data.usage?.completionTokens ?? 0;
          // an answer without tool calls is the turn's output: the turn is over
          if (event.data.toolCalls.length === 0) this.turns.delete(turnKey(turn.agent, turn.purpose));
        }
        return;
      }
      case 'model-call.failed': {
        const call = this.modelCalls.get(event.data.callId);
        this.modelCalls.delete(event.data.callId);
        if (call?.turn) this.turns.delete(turnKey(call.turn.agent, call.turn.purpose));
        return;
      }
      case 'tool-call.requested':
        this.toolCalls.set(event.data.callId, {
          tool: event.data.tool,
          agent: event.data.agent,
          args: event.data.args,
          turn: this.turnOf(event.data.agent),
        });
        return;
      case 'tool-call.started': {
        const call = this.toolCalls.get(event.data.callId);
        if (call) call.startedAt = event.at;
        return;
      }
      case 'tool-call.completed':
      case 'tool-call.failed':
      case 'tool-call.rejected':
        this.toolCalls.delete(event.data.callId);
        return;
      case 'human-request.opened': {
        const subject = event.data.subject;
        const gated = subject.type === 'tool-call' ? this.toolCalls.get(subject.callId) : undefined;
        this.requests.set(event.data.requestId, {
          kind: event.data.kind,
          roles: event.data.roles,
          payloadHash: event.data.payloadHash,
          at: event.at,
          turn: gated?.turn,
          tier: event.data.tier ?? 0,
        });
        return;
      }
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed':
        this.requests.delete(event.data.requestId);
        return;
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled':
        this.turns.clear();
        this.modelCalls.clear();
        return;
      default:
        return;
    }
  }
}

export const turnKey = (agent: string, purpose: string): string => `${agent}\u0000${purpose}`;

/** Seconds between two ISO times (never negative: clocks of two instances may disagree a little). */
export function secondsBetween(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}
