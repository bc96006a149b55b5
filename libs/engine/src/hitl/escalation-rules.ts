import type { EscalationRule, NewEvent, RequestSubject } from '@parley/contracts';
import { SYSTEM_ACTOR } from '../patterns/shared';
import { openRequestEvent, type OpenRequest } from './requests';
import type { RunState } from '../run-state';
import type { DecideContext, Step } from '../steps';

/**
 * Escalation rules of a workflow's policies: over a tool call's arguments (`tool` + `when`: the
 * call is held for the rule's roles) or over the human's input (`inputMatches`: before any model
 * call). Both raise `escalation.raised` {reason, context, suggested_action} and open a request.
 */
export function escalate(
  state: RunState,
  ctx: DecideContext,
  rule: EscalationRule,
  subject: RequestSubject,
  payload: unknown,
  payloadHash?: string,
  fourEyes = false,
  policy?: OpenRequest['policy'],
): NewEvent[] {
  const context = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const ruleName = rule.when ?? rule.inputMatches ?? rule.reason;
  return [
    {
      type: 'escalation.raised',
      actor: SYSTEM_ACTOR,
      data: {
        reason: rule.reason,
        context,
        suggested_action: rule.suggestedAction,
        source: 'policy',
        rule: ruleName,
      },
    },
    openRequestEvent(state, ctx, {
      kind: 'escalation',
      subject,
      title: `Escalation: ${rule.reason}`,
      ask: `${rule.reason}. Suggested: ${rule.suggestedAction} Approve the held action, reject it, answer or hand back with guidance, or close the run.`,
      payload,
      payloadHash,
      gate: { roles: rule.roles, fourEyes },
      escalation: { reason: rule.reason, context, suggested_action: rule.suggestedAction, source: 'policy' },
      policy,
    }),
  ];
}

/** Policy escalation over the human's input (a legal threat, a request for a manager), before any model call. */
export function escalateOnInput(state: RunState, ctx: DecideContext): Step | undefined {
  for (const rule of state.workflow.policies.escalations) {
    if (!rule.inputMatches) continue;
    if (state.escalations.some((e) => e.rule === rule.inputMatches)) continue;
    if (new RegExp(rule.inputMatches, 'i').test(state.input)) {
      return {
        kind: 'append',
        events: escalate(state, ctx, rule, { type: 'escalation' }, { input: state.input }),
      };
    }
  }
  return undefined;
}
