import type { RunState } from './run-state';
import { isTerminal } from './run-state';
import type { DecideContext, Step } from './steps';
import { fail } from './patterns/shared';
import { escalateExpired } from './hitl/escalation-chain';
import { outcomeOf } from './hitl/requests';
import { advanceToolCalls } from './patterns/tool-loop';
import { patternOf } from './patterns/registry';
import { closingOpenRequests } from './hitl/end-run';

/** Upper bound on model calls per run: a runaway loop ends as a failure, not a bill. */
export const MAX_MODEL_CALLS = 200;

/**
 * The next step of a run, from its state alone. Pure: time and ids come from `ctx`.
 * Cross-pattern concerns first (failures, escalated expiries, tool calls and their gates, open
 * requests), then the pattern's own logic.
 */
export function decide(state: RunState, ctx: DecideContext): Step {
  const step = nextStep(state, ctx);
  // A run that ends closes the requests it still has open, in the same append.
  return step.kind === 'append' ? { kind: 'append', events: closingOpenRequests(state, step.events) } : step;
}

function nextStep(state: RunState, ctx: DecideContext): Step {
  if (isTerminal(state.status)) return { kind: 'done' };
  // A failure the run was retried from is settled: only a call that failed since counts.
  const since = state.retried?.at(-1)?.seq ?? 0;
  const failed = state.modelCalls.find((c) => c.status === 'failed' && c.seq > since);
  if (failed)
    return fail('MODEL_CALL_FAILED', `the model call of ${failed.agent} (${failed.purpose}) failed`);
  if (state.modelCalls.length >= MAX_MODEL_CALLS)
    return fail('MAX_MODEL_CALLS', `more than ${MAX_MODEL_CALLS} model calls`);

  for (const request of state.requests) {
    if (outcomeOf(request) !== 'escalated') continue;
    const superseded = state.requests.some(
      (r) => r.openedSeq > (request.closedSeq ?? 0) && sameSubject(r.subject, request.subject),
    );
    if (!superseded) return escalateExpired(state, ctx, request);
  }
  const tools = advanceToolCalls(state, ctx);
  if (tools) return tools;
  if (state.requests.some((r) => r.status === 'open')) return { kind: 'wait' };

  return patternOf(state.workflow).decide(state, state.workflow, ctx);
}

function sameSubject(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
