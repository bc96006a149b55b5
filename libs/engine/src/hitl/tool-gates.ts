import type { ApprovalRule, EscalationRule, NewEvent, Policies } from '@parley/contracts';
import { test } from '../policies/expression';
import type { HumanRequestState, RunState, ToolCallState } from '../run-state';
import type { DecideContext } from '../steps';
import { last, sha256 } from '../patterns/shared';
import { openRequestEvent, requestsAbout } from './requests';
import { escalate } from './escalation-rules';
import { askersOf } from './four-eyes';
import { approvedHash, approves, applyEdit, latestVotes, settledPayload } from './payload';

/**
 * The one place where Parley decides whether a tool effect may happen.
 *
 * The invariant: a tool runs only if the workflow's policies, evaluated on the exact arguments it will
 * run with (the model's, or a human's edit of them, as the tool's zod schema parses them), are
 * satisfied by decisions recorded in the run's own log, bound by hash to those arguments. It is
 * checked right before every effect, whatever led there: a fresh call, a decision, an edit, a fork,
 * an import, an expiry, a restart. A request opened when the call was made is only the usual way of
 * getting those decisions; it is never taken as proof that they exist.
 */

/** The rule that governs a call: an escalation rule first (it replaces the approval), else an approval rule. */
export type GoverningRule =
  | { type: 'escalation'; index: number; rule: EscalationRule; approval?: ApprovalRule }
  | { type: 'approval'; index: number; rule: ApprovalRule };

export function governingRule(policies: Policies, tool: string, args: unknown): GoverningRule | undefined {
  const matches = (rule: { tool?: string; when?: string }): boolean =>
    rule.tool === tool && (!rule.when || test(rule.when, args));
  const a = policies.approvals.findIndex(matches);
  const approval = a >= 0 ? policies.approvals[a] : undefined;
  const e = policies.escalations.findIndex(matches);
  if (e >= 0) return { type: 'escalation', index: e, rule: policies.escalations[e], approval };
  if (approval) return { type: 'approval', index: a, rule: approval };
  return undefined;
}

/** What a call is, for a gate. */
export interface GatedCall {
  callId: string;
  agent: string;
  tool: string;
}

/** The events that open the gate `rule` asks for, on the arguments `args` (shown as they are). */
export function gateEvents(
  state: RunState,
  ctx: DecideContext,
  call: GatedCall,
  args: unknown,
  rule: GoverningRule,
): NewEvent[] {
  const subject = { type: 'tool-call', callId: call.callId } as const;
  const payload = { tool: call.tool, args };
  const payloadHash = sha256(payload);
  const policy = { type: rule.type, index: rule.index };
  if (rule.type === 'escalation') {
    // The escalation replaces the approval gate: it keeps the approval's four-eyes rule, else the
    // requester could approve their own call by way of the escalation.
    const fourEyes = rule.approval?.fourEyes ?? false;
    return escalate(state, ctx, rule.rule, subject, payload, payloadHash, fourEyes, policy);
  }
  const approval = rule.rule;
  const confirmation = approval.kind === 'confirmation';
  return [
    openRequestEvent(state, ctx, {
      kind: approval.kind,
      subject,
      title: confirmation ? `Confirm ${call.tool}` : `Approve ${call.tool}`,
      ask: confirmation
        ? `${call.agent} will run ${call.tool} with ${JSON.stringify(args)}. Confirm?`
        : `${call.agent} wants to run ${call.tool} with ${JSON.stringify(args)}${approval.when ? ` (policy: ${approval.when})` : ''}.`,
      payload,
      payloadHash,
      gate: approval,
      requesterOnly: confirmation,
      policy,
    }),
  ];
}

/** The requests about a call, oldest first. */
export function gatesOf(state: RunState, callId: string): HumanRequestState[] {
  return requestsAbout(state, (s) => s.type === 'tool-call' && s.callId === callId);
}

export function latestGate(state: RunState, callId: string): HumanRequestState | undefined {
  return last(gatesOf(state, callId));
}

/**
 * The arguments a call runs with: the model's, then each human edit in turn (an approver's edit may
 * be followed by a stricter rule's request on the edited arguments, and that one may edit again).
 */
export function effectiveArgs(state: RunState, call: ToolCallState): unknown {
  let args = call.args;
  for (const gate of gatesOf(state, call.callId)) {
    if (gate.status !== 'resolved' || gate.outcome !== 'edit') continue;
    const edited = applyEdit(gate.payload, gate.outcomePayload) as { args?: unknown } | undefined;
    if (edited && typeof edited === 'object' && 'args' in edited) args = edited.args;
  }
  return args;
}

/** Whether a request's decisions can stand for `rule`: opened for it, or for an escalation (which replaces an approval). */
function covers(request: HumanRequestState, rule: GoverningRule): boolean {
  const policy = request.policy;
  if (policy)
    return (
      (policy.type === rule.type && policy.index === rule.index) ||
      (policy.type === 'escalation' && rule.type === 'approval')
    );
  // Logs written before requests named their rule: an escalation stands for any rule, an approval
  // or a confirmation for an approval rule of its kind.
  if (request.kind === 'escalation') return true;
  return rule.type === 'approval' && request.kind === rule.rule.kind;
}

/**
 * Whether decisions recorded in the log satisfy `rule` for a call that will run with `args`: a
 * request that stands for the rule settled on exactly these arguments, approved by enough distinct
 * humans who approved exactly them, none of whom asked for anything in the run or its lineage when
 * four-eyes applies; or expired with `approve` when the rule's own timeout says so.
 */
export function satisfiedBy(
  state: RunState,
  call: ToolCallState,
  rule: GoverningRule,
  args: unknown,
): HumanRequestState | undefined {
  const target = sha256({ tool: call.tool, args });
  const approval = rule.type === 'approval' ? rule.rule : rule.approval;
  return gatesOf(state, call.callId).find((request) => {
    if (!covers(request, rule)) return false;
    if (sha256(settledPayload(request)) !== target) return false;
    if (request.status === 'expired') return request.expiredAction === 'approve';
    if (request.status !== 'resolved' || !approves(request.outcome)) return false;
    const fourEyes = request.fourEyes || (approval?.fourEyes ?? false);
    const quorum = Math.max(request.quorum, rule.type === 'approval' ? rule.rule.quorum : 1);
    const askers = fourEyes ? askersOf(state, request) : new Set<string>();
    const deciders = latestVotes(request.votes).filter(
      (v) => approvedHash(request, v) === target && !askers.has(v.by.id),
    );
    return deciders.length >= quorum;
  });
}

export type Authorization =
  /** Run it, with these arguments (as recorded: the tool's schema parses them again). */
  | { kind: 'run'; args: unknown }
  /** Not runnable at all: the arguments the tool's schema refuses. */
  | { kind: 'refuse'; reason: string }
  /** A human must decide first: open this gate. */
  | { kind: 'gate'; events: NewEvent[] };

/**
 * May `call` run now? Evaluated on the arguments it would run with. The caller has already handled
 * an open, negative or escalated latest gate.
 */
export function authorizeToolCall(state: RunState, ctx: DecideContext, call: ToolCallState): Authorization {
  const args = effectiveArgs(state, call);
  const parsed = ctx.parseArgs?.(call.tool, args) ?? { ok: true as const, args };
  if (!parsed.ok) return { kind: 'refuse', reason: `${parsed.code}: ${parsed.message}; refused, not run` };
  const rule = governingRule(state.workflow.policies, call.tool, parsed.args);
  if (!rule || satisfiedBy(state, call, rule, args)) return { kind: 'run', args };
  return { kind: 'gate', events: gateEvents(state, ctx, call, args, rule) };
}
