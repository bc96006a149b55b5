import type { NewEvent } from '@parley/contracts';
import { authorizeToolCall } from '../hitl/tool-gates';
import { SYSTEM_ACTOR, agentActor } from '../patterns/shared';
import { retryBoundsOf } from '../retries/retry-policy';
import type { RunState } from '../run-state';
import type { DecideContext, Step } from '../steps';
import { recoverStartedCall, type InterruptedCalls } from '../tools/reconcile';
import type { Begun } from './effects';

/** What a step appends before its effect, and the effect it begins (none for plain facts). */
export function intentOf(
  state: RunState,
  step: Exclude<Step, { kind: 'wait' | 'done' }>,
  ctx: DecideContext,
  /** Absent (tests of the pure path): every started call is run again. */
  interrupted?: InterruptedCalls,
): { events: NewEvent[]; begun?: Begun } {
  switch (step.kind) {
    case 'append':
      return { events: step.events };
    case 'call-models': {
      // A call started before a crash and never answered is made again under the same id:
      // only a recorded answer counts, so repeating an unanswered model call is harmless.
      const calls = step.calls.map((plan) => {
        const started = state.modelCalls.find(
          (c) => c.status === 'started' && c.agent === plan.agent.name && c.purpose === plan.purpose,
        );
        return { plan: { ...plan, callId: started?.callId ?? plan.callId }, fresh: !started };
      });
      return {
        events: calls
          .filter((c) => c.fresh)
          .map(({ plan }) => ({
            type: 'model-call.started',
            actor: agentActor(plan.agent.name),
            data: {
              callId: plan.callId,
              agent: plan.agent.name,
              purpose: plan.purpose,
              model: plan.agent.model,
            },
          })),
        begun: {
          kind: 'models',
          calls: calls.map((c) => c.plan),
          retry: retryBoundsOf(state.workflow),
          retries: Object.fromEntries(
            state.modelCalls
              .filter((c) => c.status === 'started' && c.retries)
              .map((c) => [c.callId, c.retries!]),
          ),
        },
      };
    }
    case 'run-tool': {
      const call = state.toolCalls.find((c) => c.callId === step.callId);
      if (!call || (call.status !== 'requested' && call.status !== 'started')) return { events: [] };
      // The last word before an effect: whatever decided to run it, the policies must be satisfied
      // by the log's decisions on exactly these arguments (hitl/tool-gates.ts). Else nothing begins.
      const verdict = authorizeToolCall(state, ctx, call);
      if (verdict.kind !== 'run') return { events: [] };
      // A tool call started but never finished runs again with the same idempotency key when the
      // tool is idempotent; any other is put to a human first (tools/reconcile.ts).
      let events: NewEvent[] =
        call.status === 'requested'
          ? [
              {
                type: 'tool-call.started',
                actor: SYSTEM_ACTOR,
                data: { callId: call.callId, idempotencyKey: call.idempotencyKey },
              },
            ]
          : [];
      if (interrupted?.interrupted(call)) {
        const recovery = recoverStartedCall(state, ctx, call);
        if (recovery.kind !== 'rerun') return { events: recovery.kind === 'ask' ? recovery.events : [] };
        events = recovery.events;
      }
      if (events.length) interrupted?.intended(call.idempotencyKey);
      return {
        events,
        begun: {
          kind: 'tool',
          callId: call.callId,
          tool: call.tool,
          idempotencyKey: call.idempotencyKey,
          args: verdict.args,
          retry: retryBoundsOf(state.workflow),
          retries: call.retries,
        },
      };
    }
  }
}
