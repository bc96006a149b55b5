import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { DecideContext, Step } from '../../steps';
import { callModel, callStep, callsFor, fail, finish, last } from '../shared';
import { outcomeOf, requestsAbout } from '../../hitl/requests';
import { escalateOnInput, requestToolCalls, toolCallsSettled, toolLoopMessages, toolsOf } from '../tool-loop';

type SingleAgent = Extract<Workflow, { pattern: 'single-agent' }>;

/** One agent with tools, in a loop: call the model, run its tool calls (through the gates), until it answers. */
export function decideSingleAgent(state: RunState, wf: SingleAgent, ctx: DecideContext): Step {
  const held = inputEscalation(state);
  if (held) return held;
  const escalation = escalateOnInput(state, ctx);
  if (escalation) return escalation;
  const calls = callsFor(state, 'reply');
  const latest = last(calls);
  if (latest?.status === 'completed') {
    const requested = requestToolCalls(state, ctx, latest);
    if (requested) return requested;
    if (latest.toolCalls.length === 0) return finish(latest.content);
    if (!toolCallsSettled(state, latest)) return { kind: 'wait' };
  }
  if (calls.filter((c) => c.status === 'completed').length >= wf.maxSteps) {
    return fail('MAX_STEPS', `the agent did not answer within ${wf.maxSteps} steps`);
  }
  const plan = callModel(state, ctx, wf.agent, 'reply', toolLoopMessages(state, wf.agent), {
    tools: toolsOf(state, ctx, wf.agent),
  });
  return callStep(plan);
}

/** An escalation on the input holds the run until a human answers, hands back, or closes it. */
export function inputEscalation(state: RunState): Step | undefined {
  const request = last(requestsAbout(state, (s) => s.type === 'escalation'));
  if (!request) return undefined;
  const outcome = outcomeOf(request);
  if (outcome === 'open') return { kind: 'wait' };
  if (outcome === 'close') return finish(request.outcomeComment ?? 'Closed by a human after escalation.');
  if (outcome === 'reject')
    return fail('ESCALATION_REJECTED', request.outcomeComment ?? 'A human rejected the request.');
  return undefined;
}
