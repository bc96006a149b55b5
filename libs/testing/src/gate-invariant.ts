/**
/*
 * (Over 400 lines, on purpose: the generator, the driver and the oracle of one property read best
 * together; the oracle is written from the invariant's statement, not from the engine's code.)
 */
/**
 * The gate invariant as a property (issue: "no path around a human"): over generated workflows
 * (approval and escalation rules with thresholds, quorums, four-eyes, timeouts and escalation
 * chains), generated model answers and generated human actions (decisions with and without edits,
 * stale hashes, expiries, messages, forks at any seq, restarts from any prefix), the pure deciders
 * never run a tool unless an ORACLE, written here from the rule's plain statement and not from the
 * engine's code, says the workflow's policies are satisfied for the exact arguments that run.
 *
 * Used by `gate-invariant.unit.spec.ts` (a few hundred cases, `npm test`) and by
 * `test/chaos/gate-invariant.chaos-spec.ts` (10,000, `npm run test:chaos`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { EventEnvelope, NewEvent, RunEvent, Workflow } from '@parley/contracts';
import { ParleyError, WorkflowSchema, canonicalJson, upcast } from '@parley/contracts';
import { sealBatch } from '@parley/event-store';
import {
  authorizeToolCall,
  decide,
  decideOnRequest,
  expireRequest,
  foldRun,
  forkStream,
  postMessage,
  shownPayload,
  type DecideContext,
  type RunState,
} from '@parley/engine';
import { z } from 'zod';
import { actingAs } from './given';

const TOOL = 'process_refund';
const THRESHOLDS = [50, 100, 200, 500] as const;
const AMOUNTS = [30, 80, 150, 300, 600, 5000] as const;
/** alice starts every run. Roles as the server's tokens would give them. */
const HUMANS = [
  { id: 'alice', roles: ['approver'] },
  { id: 'bob', roles: ['approver'] },
  { id: 'carol', roles: ['approver', 'manager'] },
  { id: 'dave', roles: ['manager'] },
  { id: 'erin', roles: ['participant'] },
] as const;

type Threshold = (typeof THRESHOLDS)[number];
interface ApprovalGen {
  over: Threshold;
  roles: string[];
  quorum: number;
  fourEyes: boolean;
  kind: 'approval' | 'confirmation';
  timeout?: 'reject' | 'approve' | 'escalate' | 'chain';
}
interface EscalationGen {
  over: Threshold;
  roles: string[];
}
export type Action =
  | {
      kind: 'decide';
      request: number;
      who: number;
      decision: 'approve' | 'reject' | 'edit';
      amount: number;
      hash: 'shown' | 'none' | 'stale';
    }
  | { kind: 'expire'; request: number }
  | { kind: 'message'; who: number }
  | { kind: 'fork'; at: number; who: number }
  | { kind: 'restart'; at: number };

export interface Scenario {
  approvals: ApprovalGen[];
  escalations: EscalationGen[];
  amounts: number[];
  actions: Action[];
}

const roles: fc.Arbitrary<string[]> = fc.constantFrom(['approver'], ['manager'], ['approver', 'manager']);
const approvalGen: fc.Arbitrary<ApprovalGen> = fc.record(
  {
    over: fc.constantFrom(...THRESHOLDS),
    roles,
    quorum: fc.constantFrom(1, 1, 2),
    fourEyes: fc.boolean(),
    kind: fc.constantFrom('approval', 'approval', 'approval', 'confirmation'),
    timeout: fc.constantFrom('reject', 'approve', 'escalate', 'chain'),
  },
  { requiredKeys: ['over', 'roles', 'quorum', 'fourEyes', 'kind'] },
);
const escalationGen: fc.Arbitrary<EscalationGen> = fc.record({ over: fc.constantFrom(...THRESHOLDS), roles });
const actionGen: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      request: fc.nat(3),
      who: fc.nat(HUMANS.length - 1),
      decision: fc.constantFrom('approve', 'approve', 'reject', 'edit'),
      amount: fc.constantFrom(...AMOUNTS),
      hash: fc.constantFrom('shown', 'shown', 'none', 'stale'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), request: fc.nat(3) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('message' as const), who: fc.nat(HUMANS.length - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fork' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      who: fc.nat(HUMANS.length - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('restart' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
);

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  approvals: fc.array(approvalGen, { maxLength: 2 }),
  escalations: fc.array(escalationGen, { maxLength: 2 }),
  amounts: fc.array(fc.constantFrom(...AMOUNTS), { minLength: 1, maxLength: 3 }),
  actions: fc.array(actionGen, { minLength: 1, maxLength: 14 }),
});

export function workflowOf(s: Scenario): Workflow {
  const timeoutOf = (t: ApprovalGen['timeout']) =>
    t === undefined
      ? undefined
      : t === 'chain'
        ? {
            after: '1m',
            then: 'escalate',
            chain: [
              { roles: ['manager'], after: '1m' },
              { roles: ['admin'], after: '1m' },
            ],
          }
        : t === 'escalate'
          ? { after: '1m', then: 'escalate', escalateTo: 'manager' }
          : { after: '1m', then: t };
  return WorkflowSchema.parse({
    name: 'gated',
    pattern: 'single-agent',
    agent: 'clerk',
    maxSteps: 8,
    agents: [{ name: 'clerk', system: 'You refund orders.', tools: [TOOL] }],
    policies: {
      approvals: s.approvals.map((a) => ({
        tool: TOOL,
        when: `amount > ${a.over}`,
        roles: a.roles,
        quorum: a.quorum,
        fourEyes: a.fourEyes,
        kind: a.kind,
        ...(a.timeout ? { timeout: timeoutOf(a.timeout) } : {}),
      })),
      escalations: s.escalations.map((e) => ({
        tool: TOOL,
        when: `amount > ${e.over}`,
        reason: `over ${e.over}`,
        roles: e.roles,
      })),
    },
  });
}

const RefundArgs = z.strictObject({ orderId: z.string(), amount: z.number() });
const hashOf = (v: unknown): string => createHash('sha256').update(canonicalJson(v)).digest('hex');

function context(now: Date): DecideContext {
  let n = 0;
  return {
    now,
    newId: () => `id-${now.getTime()}-${++n}`,
    toolSpec: (name) =>
      name === TOOL
        ? { name, description: 'refund', parameters: z.toJSONSchema(RefundArgs) as Record<string, unknown> }
        : undefined,
    parseArgs: (tool, args) => {
      const parsed = RefundArgs.safeParse(args);
      return parsed.success
        ? { ok: true, args: parsed.data }
        : { ok: false, code: 'TOOL.INVALID_ARGS', message: parsed.error.message };
    },
  };
}

// ---- the oracle: the rule as the issue states it, written from scratch ------------------------

interface Effect {
  runId: string;
  callId: string;
  args: { orderId: string; amount: number };
}

/**
 * May the call `callId` of the run whose log is `events` run with `args`? The policies, evaluated on
 * `args`, must be satisfied by decisions recorded in that log: the governing rule (the first
 * escalation rule over its threshold, else the first approval rule over its threshold) needs a
 * request opened for it (an escalation stands for an approval) that settled on exactly `args`, with
 * at least its quorum of distinct humans whose last vote approved exactly `args`, none of them (under
 * four-eyes) the run's starter, a forker, an original's asker, a message poster or an editor of the
 * call; or an expiry with `approve` when the rule's own timeout says so.
 */
export function oracleAllows(
  wf: Workflow,
  events: RunEvent[],
  callId: string,
  args: Effect['args'],
): string | true {
  const { approvals, escalations } = wf.policies;
  const over = (rule: { when?: string }) => args.amount > Number(/amount > (\d+)/.exec(rule.when ?? '')?.[1]);
  const e = escalations.findIndex(over);
  const a = approvals.findIndex(over);
  if (e < 0 && a < 0) return true;
  const rule = e >= 0 ? { type: 'escalation', index: e } : { type: 'approval', index: a };
  const approvalRule = a >= 0 ? approvals[a] : undefined;
  const askers = new Set<string>();
  const requests = new Map<
    string,
    {
      opened: RunEvent;
      votes: Array<{ by: string; decision: string; payload?: unknown; payloadHash: string }>;
      resolved?: RunEvent;
      expired?: RunEvent;
    }
  >();
  for (const ev of events) {
    if (ev.type === 'run.started') {
      askers.add(ev.data.requestedBy);
      for (const x of ev.data.forkOf?.askers ?? []) askers.add(x);
    }
    if (ev.type === 'human-message.posted') askers.add(ev.data.by.id);
    if (
      ev.type === 'human-request.opened' &&
      ev.data.subject.type === 'tool-call' &&
      ev.data.subject.callId === callId
    )
      requests.set(ev.data.requestId, { opened: ev, votes: [] });
    if (ev.type === 'human-decision.recorded')
      requests.get(ev.data.requestId)?.votes.push({
        by: ev.data.by.id,
        decision: ev.data.decision,
        payload: ev.data.payload,
        payloadHash: ev.data.payloadHash,
      });
    if (ev.type === 'human-request.resolved') {
      const r = requests.get(ev.data.requestId);
      if (r) r.resolved = ev;
    }
    if (ev.type === 'human-request.expired') {
      const r = requests.get(ev.data.requestId);
      if (r) r.expired = ev;
    }
  }
  const target = { tool: TOOL, args };
  const editors = new Set<string>();
  const reasons: string[] = [];
  for (const r of requests.values()) {
    const opened = r.opened as Extract<RunEvent, { type: 'human-request.opened' }>;
    const d = opened.data;
    const policy = d.policy;
    const stands =
      policy &&
      ((policy.type === rule.type && policy.index === rule.index) ||
        (policy.type === 'escalation' && rule.type === 'approval'));
    const editedArgs = (p: unknown) => ({ ...(d.payload as object), ...(p as object) });
    const resolved = r.resolved as Extract<RunEvent, { type: 'human-request.resolved' }> | undefined;
    const expired = r.expired as Extract<RunEvent, { type: 'human-request.expired' }> | undefined;
    const thisEditors = r.votes.filter((v) => v.decision === 'edit').map((v) => v.by);
    if (stands) {
      if (expired && expired.data.action === 'approve' && canonicalJson(d.payload) === canonicalJson(target))
        return true;
      if (resolved && ['approve', 'confirm', 'edit'].includes(resolved.data.outcome)) {
        const settled = resolved.data.outcome === 'edit' ? editedArgs(resolved.data.payload) : d.payload;
        if (canonicalJson(settled) === canonicalJson(target)) {
          const last = new Map<string, (typeof r.votes)[number]>();
          for (const v of r.votes) last.set(v.by, v);
          const fourEyes = d.fourEyes || (approvalRule?.fourEyes ?? false);
          const voters = [...last.values()].filter((v) => {
            const approved =
              v.decision === 'edit'
                ? canonicalJson(editedArgs(v.payload)) === canonicalJson(target)
                : ['approve', 'confirm'].includes(v.decision) && v.payloadHash === hashOf(target);
            return approved && !(fourEyes && (v.by === d.requester || askers.has(v.by) || editors.has(v.by)));
          });
          const quorum = Math.max(d.quorum, rule.type === 'approval' ? (approvalRule?.quorum ?? 1) : 1);
          if (voters.length >= quorum) return true;
          reasons.push(`request ${d.requestId}: ${voters.length} of ${quorum} valid approvals`);
        } else reasons.push(`request ${d.requestId} settled on other arguments`);
      }
    }
    if (resolved?.data.outcome === 'edit') for (const x of thisEditors) editors.add(x);
  }
  return `no decision satisfies ${rule.type} rule ${rule.index} for ${JSON.stringify(args)} (${reasons.join('; ') || 'no request stands for it'})`;
}

// ---- the simulation --------------------------------------------------------------------------

export interface Outcome {
  effects: Effect[];
  runs: number;
  steps: number;
}

/** Drive a scenario through the pure deciders, checking every effect against the oracle. */
export function runScenario(s: Scenario): Outcome {
  const wf = workflowOf(s);
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const tick = () => new Date((clock += 1000));
  let runNo = 1;
  let runId = 'run-1';
  let events: EventEnvelope[] = [];
  const amounts = [...s.amounts];
  const actions = [...s.actions];
  const effects: Effect[] = [];
  let steps = 0;
  const append = (batch: NewEvent[]): void => {
    if (batch.length === 0) return;
    const head = events.length ? { seq: events.length, hash: events[events.length - 1].hash } : undefined;
    const now = tick();
    events = [
      ...events,
      ...sealBatch(
        runId,
        head,
        batch.map((e) => ({ ...e, at: e.at ?? now.toISOString() })),
      ),
    ];
  };
  const fold = (): RunState => foldRun(events.map(upcast))!;
  append([
    {
      type: 'run.started',
      actor: { kind: 'human', id: 'alice' },
      data: { workflow: wf, input: 'Refund order 1', requestedBy: 'alice' },
    },
  ]);

  for (let guard = 0; guard < 120; guard++) {
    const state = fold();
    const step = decide(state, context(new Date(clock)));
    steps++;
    if (step.kind === 'done') break;
    if (step.kind === 'append') {
      append(step.events);
      continue;
    }
    if (step.kind === 'call-models') {
      const call = step.calls[0];
      const amount = amounts.shift();
      append([
        {
          type: 'model-call.started',
          actor: { kind: 'agent', id: call.agent.name },
          data: { callId: call.callId, agent: call.agent.name, purpose: call.purpose, model: 'offline' },
        },
        {
          type: 'model-call.completed',
          actor: { kind: 'agent', id: call.agent.name },
          data: {
            callId: call.callId,
            agent: call.agent.name,
            purpose: call.purpose,
            content: amount === undefined ? 'Done.' : '',
            toolCalls:
              amount === undefined ? [] : [{ id: 't', name: TOOL, arguments: { orderId: '1', amount } }],
          },
        },
      ]);
      continue;
    }
    if (step.kind === 'run-tool') {
      const call = state.toolCalls.find((c) => c.callId === step.callId)!;
      const args = effectiveArgsPlain(state, step.callId, call.args) as Effect['args'];
      // what the engine would hand the tool (its last check before the effect) is what the oracle judges
      const engine = authorizeToolCall(state, context(new Date(clock)), call);
      assert.deepEqual(engine, { kind: 'run', args }, `run ${runId}: the engine would run other arguments`);
      const verdict = oracleAllows(wf, events.map(upcast), step.callId, args);
      assert.equal(verdict, true, `run ${runId}: ${TOOL} ${JSON.stringify(args)} would run: ${verdict}`);
      assert.ok(
        !effects.some((e) => e.runId === runId && e.callId === step.callId),
        `run ${runId}: call ${step.callId} runs twice`,
      );
      effects.push({ runId, callId: step.callId, args });
      append([
        ...(call.status === 'requested'
          ? [
              {
                type: 'tool-call.started',
                actor: { kind: 'system' as const, id: 'parley' },
                data: { callId: call.callId, idempotencyKey: call.idempotencyKey },
              },
            ]
          : []),
        {
          type: 'tool-call.completed',
          actor: { kind: 'system', id: 'parley' },
          data: { callId: call.callId, result: { refunded: args.amount } },
        },
      ]);
      continue;
    }
    // wait: a human acts
    const action = actions.shift();
    if (!action) break;
    const open = state.requests.filter((r) => r.status === 'open');
    try {
      switch (action.kind) {
        case 'decide': {
          const request = open[action.request % Math.max(open.length, 1)];
          if (!request) break;
          const h = HUMANS[action.who];
          const shown = shownPayload(request);
          const payloadHash =
            action.hash === 'shown'
              ? shown.payloadHash
              : action.hash === 'stale'
                ? hashOf({ stale: true })
                : undefined;
          const { events: decided } = decideOnRequest(
            state,
            request.requestId,
            actingAs(h.id, ...h.roles),
            {
              decision: decisionFor(request.decisions, action.decision),
              comment: 'ok',
              payload:
                action.decision === 'edit' ? { args: { orderId: '1', amount: action.amount } } : undefined,
              payloadHash,
            },
            new Date(clock),
            () => undefined,
          );
          append(decided);
          break;
        }
        case 'expire': {
          const request = open[action.request % Math.max(open.length, 1)];
          if (!request?.deadline) break;
          clock = Math.max(clock, Date.parse(request.deadline) + 1);
          append(expireRequest(state, request.requestId, new Date(clock)));
          break;
        }
        case 'message': {
          const h = HUMANS[action.who];
          append(postMessage(state, actingAs(h.id, ...h.roles), 'Please refund more.'));
          break;
        }
        case 'fork': {
          const atSeq = 1 + Math.floor(action.at * (events.length - 1));
          const h = HUMANS[action.who];
          const source = runId;
          runId = `run-${++runNo}`;
          let n = 0;
          events = forkStream({
            prefix: events.slice(0, atSeq),
            sourceRunId: source,
            atSeq,
            runId,
            by: { kind: 'human', id: h.id, role: h.roles[0] },
            note: 'what if',
            newId: () => `${runId}-id-${++n}`,
          });
          break;
        }
        case 'restart': {
          // A crash: the run continues from a prefix of its log. A crash never loses what was durable
          // after an effect: here an effect's intent and result are appended together, so the prefix
          // keeps at least every result of an effect that ran (a crash between the intent and the
          // result repeats the call with the same idempotency key, which the tool applies once: not
          // this property's business). An import of any prefix, effects unknown to it, is a fork.
          const ran = new Set(effects.filter((e) => e.runId === runId).map((e) => e.callId));
          const lastIntent = events.reduce(
            (seq, e) =>
              e.type.startsWith('tool-call.') &&
              e.type !== 'tool-call.requested' &&
              ran.has((e.data as { callId: string }).callId)
                ? e.seq
                : seq,
            1,
          );
          const atSeq = Math.max(lastIntent, 1 + Math.floor(action.at * (events.length - 1)));
          events = events.slice(0, atSeq);
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof ParleyError)) throw error; // a refusal appends nothing; anything else is a bug
    }
  }
  return { effects, runs: runNo, steps };
}

/** The generated decision, as this kind of request names it (a confirmation confirms or declines). */
function decisionFor(allowed: readonly string[], wanted: 'approve' | 'reject' | 'edit'): 'approve' {
  const synonyms = {
    approve: ['approve', 'confirm'],
    reject: ['reject', 'decline'],
    edit: ['edit', 'approve', 'confirm'],
  };
  return (synonyms[wanted].find((d) => allowed.includes(d)) ?? allowed[0]) as 'approve';
}

/** The arguments after every human edit in order (the oracle's reading, not the engine's helper). */
function effectiveArgsPlain(state: RunState, callId: string, args: unknown): unknown {
  let current = args;
  for (const r of state.requests) {
    if (r.subject.type !== 'tool-call' || r.subject.callId !== callId) continue;
    if (r.status === 'resolved' && r.outcome === 'edit')
      current = (r.outcomePayload as { args: unknown }).args ?? current;
  }
  return current;
}

export function checkGateInvariant(numRuns: number, seed?: number): { effects: number; runs: number } {
  let effects = 0;
  let runs = 0;
  fc.assert(
    fc.property(scenarioArbitrary, (s) => {
      const outcome = runScenario(s);
      effects += outcome.effects.length;
      runs += outcome.runs;
    }),
    { numRuns, ...(seed !== undefined ? { seed } : {}) },
  );
  return { effects, runs };
}
