import { durationMs } from '@parley/contracts';
import { openRequestEvent } from './requests';
import type { HumanRequestState, RunState } from '../run-state';
import type { DecideContext, Step } from '../steps';

/**
 * A request that expired with `escalate`: the same question goes to the next tier of its chain,
 * with that tier's roles and deadline; the tiers after it ride along in the new request, so the
 * whole chain is in the log (`approver 15 min -> manager 1 h -> reject`). The last tier's expiry
 * does the chain's `finally` (reject unless the workflow says `continue`): never a silent approve.
 * A request with a single `escalateTo` (no chain) escalates once, with no deadline.
 */
export function escalateExpired(state: RunState, ctx: DecideContext, expired: HumanRequestState): Step {
  const chain = expired.onTimeout?.chain ?? [{ roles: [expired.onTimeout?.escalateTo ?? 'admin'] }];
  const [tier, ...rest] = chain;
  const finalAction = expired.onTimeout?.finally ?? 'reject';
  const deadline = tier.after ? new Date(ctx.now.getTime() + durationMs(tier.after)).toISOString() : null;
  const tierNo = (expired.tier ?? 0) + 1;
  const opened = openRequestEvent(state, ctx, {
    kind: 'escalation',
    subject: expired.subject,
    title: `Escalated: ${expired.title.replace(/^Escalated( \(tier \d+\))?: /, '')}`,
    ask: `Nobody answered in time. ${expired.ask.replace(/^Nobody answered in time\. /, '')}`,
    payload: expired.payload,
    payloadHash: expired.payloadHash,
    gate: { roles: tier.roles, quorum: 1, fourEyes: expired.fourEyes },
    escalation: {
      reason: `The ${expired.kind} request expired without a decision`,
      context: expired.title,
      suggested_action: 'Decide the request in place of the original approvers.',
      source: 'policy',
    },
    policy: expired.policy,
    tier: expired.onTimeout?.chain ? tierNo : undefined,
  });
  const data = opened.data as { deadline: string | null; onTimeout: unknown; requester: string };
  data.deadline = deadline;
  data.onTimeout = !deadline
    ? null
    : rest.length > 0
      ? { action: 'escalate', escalateTo: rest[0].roles[0], chain: rest, finally: finalAction }
      : { action: finalAction };
  // The request keeps who asked originally (four-eyes), not whoever the run names now.
  data.requester = expired.requester;
  return { kind: 'append', events: [opened] };
}
