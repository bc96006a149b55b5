import type { ModelCallState, RunState } from '../run-state';
import type { ChatMessage, DecideContext, ModelCallPlan, Step, ToolSpec } from '../steps';
import { agentNamed, callModel, callsFor, completed, fail, last } from './shared';
import { ownCallMessages, requestToolCalls, toolCallsSettled, toolsOf } from './tool-loop';

/**
 * Upper bound on the model calls of one turn (the first and one per round of tool results): an agent
 * that keeps calling tools fails the run instead of looping. Single-agent has `maxSteps` instead.
 */
export const MAX_TURN_STEPS = 8;

/** One turn of an agent in any pattern: a stage, a worker, a participant, a specialist, a maker. */
export interface Turn {
  agent: string;
  /** The purpose of every model call of the turn (the pattern's own: `stage:0`, `turn`, `draft` ...). */
  purpose: string;
  /**
   * The turn's model calls are the agent's calls of `purpose` completed after this seq: the seq of
   * what opened the turn (a previous output, a speaker selection, a ledger), 0 for a first turn.
   */
  after: number;
  /** What the agent is given when the turn opens (after its system prompt). */
  messages: ChatMessage[];
}

export type TurnProgress =
  /** The agent answered without calling a tool: this answer is the turn's output. */
  | { status: 'done'; output: ModelCallState }
  /** The model is (or is again) to be called: the pattern may fan several of these out together. */
  | { status: 'call'; plan: ModelCallPlan }
  /** Its tool calls are being requested (through the gates), or the turn waits until they settle. */
  | { status: 'pending'; step: Step };

/**
 * An agent's turn as a tool loop, the same for every pattern: call the model with the agent's tools;
 * while its answer has tool calls, request them (policies and escalation rules apply, as for a single
 * agent: `requestToolCalls`), wait until every one is settled (`decide` runs or refuses them), then
 * call the model again with the results. The first answer without tool calls ends the turn.
 */
export function agentTurn(state: RunState, ctx: DecideContext, turn: Turn): TurnProgress {
  const calls = turnCalls(state, turn);
  const latest = last(calls);
  if (latest) {
    if (latest.toolCalls.length === 0) return { status: 'done', output: latest };
    const requested = requestToolCalls(state, ctx, latest);
    if (requested) return { status: 'pending', step: requested };
    if (!toolCallsSettled(state, latest)) return { status: 'pending', step: { kind: 'wait' } };
    if (calls.length >= MAX_TURN_STEPS)
      return {
        status: 'pending',
        step: fail(
          'MAX_STEPS',
          `${turn.agent} did not answer within ${MAX_TURN_STEPS} steps (${turn.purpose})`,
        ),
      };
  }
  const messages = [...turn.messages, ...calls.flatMap((c) => ownCallMessages(state, c))];
  return {
    status: 'call',
    plan: callModel(state, ctx, turn.agent, turn.purpose, messages, {
      tools: turnTools(state, ctx, turn.agent),
    }),
  };
}

/**
 * The step of a turn that a pattern has opened after its last output (`after` is that output's seq,
 * or the seq of what opened the turn), so it cannot be done yet: its output would be the last one.
 */
export function turnStep(progress: TurnProgress): Step {
  if (progress.status === 'done')
    throw new Error(`a turn of ${progress.output.agent} (${progress.output.purpose}) is already done`);
  return progress.status === 'call' ? { kind: 'call-models', calls: [progress.plan] } : progress.step;
}

/**
 * The outputs of the turns of `purpose`: the completed calls that called no tool. A call that asked
 * for tools is a step inside a turn, never an output (its content is not what the agent concluded).
 */
export function turnOutputs(state: RunState, purpose: string, agent?: string): ModelCallState[] {
  return completed(callsFor(state, purpose, agent)).filter((c) => c.toolCalls.length === 0);
}

function turnCalls(state: RunState, turn: Turn): ModelCallState[] {
  return completed(callsFor(state, turn.purpose, turn.agent)).filter((c) => c.seq > turn.after);
}

/**
 * An agent with tools is offered them and `escalate_to_human`, as a single agent is. An agent
 * without tools is offered none: its call is the plain completion it always was.
 */
function turnTools(state: RunState, ctx: DecideContext, agent: string): ToolSpec[] {
  return agentNamed(state.workflow, agent).tools.length > 0 ? toolsOf(state, ctx, agent) : [];
}
