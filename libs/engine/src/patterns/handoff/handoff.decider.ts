import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { DecideContext, Step, ToolSpec } from '../../steps';
import { SYSTEM_ACTOR, agentActor, callModel, callStep, callsFor, fail, finish, last } from '../shared';
import { openRequestEvent, requestsAbout } from '../../hitl/requests';
import { escalateOnInput, requestToolCalls, toolCallsSettled, toolLoopMessages, toolsOf } from '../tool-loop';
import { inputEscalation } from '../single-agent/single-agent.decider';

type Handoff = Extract<Workflow, { pattern: 'handoff' }>;

const TRANSFER = 'transfer_to_';
const isTransfer = (name: string): boolean => name.startsWith(TRANSFER);

function transferTool(to: string, description: string): ToolSpec {
  return {
    name: `${TRANSFER}${to}`,
    description,
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'why this agent should take over' } },
      additionalProperties: false,
    },
  };
}

/**
 * Triage transfers the conversation to a specialist through handoff tools; a specialist can hand
 * back. A human can re-route at any time (`handoff.overridden`), or check each routing decision.
 */
export function decideHandoff(state: RunState, wf: Handoff, ctx: DecideContext): Step {
  const held = inputEscalation(state);
  if (held) return held;
  const escalation = escalateOnInput(state, ctx);
  if (escalation) return escalation;

  const agent = state.currentAgent ?? wf.triage;
  const latest = last(callsFor(state, 'reply'));
  const lastHandoff = last(state.handoffs);
  const rerouted = lastHandoff && latest && lastHandoff.seq > latest.seq;

  if (latest?.status === 'completed' && !rerouted) {
    // Only the transfers the agent was offered are handoffs (triage: to a specialist, under review;
    // a specialist: back to triage). Any other transfer to an agent is a tool outside its list:
    // refused by requestToolCalls, so a specialist cannot route around the triage's review.
    const offered = latest.agent === wf.triage ? wf.specialists : [wf.triage];
    const handledHere = (name: string): boolean => {
      if (!isTransfer(name)) return false;
      const to = name.slice(TRANSFER.length);
      return offered.includes(to) || !wf.agents.some((a) => a.name === to);
    };
    const transfer = latest.toolCalls.find((tc) => handledHere(tc.name));
    if (transfer) {
      const to = transfer.name.slice(TRANSFER.length);
      if (!wf.agents.some((a) => a.name === to))
        return fail('UNKNOWN_AGENT', `${latest.agent} transferred to unknown agent "${to}"`);
      if (state.handoffs.length >= wf.maxHandoffs)
        return fail('MAX_HANDOFFS', `more than ${wf.maxHandoffs} handoffs`);
      const reason = String(
        (transfer.arguments as { reason?: unknown } | undefined)?.reason ??
          `${latest.agent} routed the request`,
      );
      const events = [
        {
          type: 'handoff.performed',
          actor: agentActor(latest.agent),
          data: { from: latest.agent, to, reason },
        } as const,
      ];
      if (wf.routeReview && latest.agent === wf.triage) {
        const handoff = state.handoffs.length + 1;
        return {
          kind: 'append',
          events: [
            ...events,
            openRequestEvent(state, ctx, {
              kind: 'review',
              subject: { type: 'route', handoff },
              title: `Check routing: ${latest.agent} → ${to}`,
              ask: `${latest.agent} routed this conversation to ${to}. Approve, or re-route it to another specialist.`,
              payload: { from: latest.agent, to, reason, input: state.input, specialists: wf.specialists },
              gate: wf.routeReview,
              decisions: ['approve', 'edit'],
            }),
          ],
        };
      }
      return { kind: 'append', events: [...events] };
    }
    const requested = requestToolCalls(state, ctx, latest, handledHere);
    if (requested) return requested;
    if (latest.toolCalls.length === 0) return finish(latest.content);
    if (!toolCallsSettled(state, latest, handledHere)) return { kind: 'wait' };
  }
  const review = last(requestsAbout(state, (s) => s.type === 'route'));
  if (review?.status === 'resolved' && review.outcome === 'edit') {
    const to = String((review.outcomePayload as { to?: unknown } | undefined)?.to ?? '');
    if (to && to !== agent && lastHandoff && lastHandoff.seq < review.closedSeq!) {
      return {
        kind: 'append',
        events: [
          {
            type: 'handoff.performed',
            actor: SYSTEM_ACTOR,
            data: { from: agent, to, reason: review.outcomeComment ?? 're-routed by a reviewer' },
          },
        ],
      };
    }
  }
  const extra =
    agent === wf.triage
      ? wf.specialists.map((s) => transferTool(s, `Transfer the conversation to the ${s} specialist.`))
      : [transferTool(wf.triage, 'Hand the conversation back to triage when it is not yours to answer.')];
  const plan = callModel(state, ctx, agent, 'reply', toolLoopMessages(state, agent), {
    tools: toolsOf(state, ctx, agent, extra),
  });
  return callStep(plan);
}
