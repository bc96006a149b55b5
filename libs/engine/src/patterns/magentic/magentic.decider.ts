import { z } from 'zod';
import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { ChatMessage, DecideContext, Step } from '../../steps';
import { agentActor, callModel, callsFor, callStep, cancel, completed, fail, finish, last } from '../shared';
import { feedbackOn, requestsAbout } from '../../hitl/requests';
import { review } from '../../hitl/review';
import { agentTurn, turnOutputs, turnStep } from '../agent-turn';

type Magentic = Extract<Workflow, { pattern: 'magentic' }>;

export function planSchema(specialists: string[]) {
  return z.strictObject({
    facts: z.string(),
    steps: z
      .array(z.strictObject({ agent: z.enum(specialists as [string, ...string[]]), task: z.string().min(1) }))
      .min(1),
  });
}

export function ledgerSchema(specialists: string[]) {
  return z.strictObject({
    is_request_satisfied: z.boolean(),
    is_progress_being_made: z.boolean(),
    is_in_loop: z.boolean(),
    next_speaker: z.enum(specialists as [string, ...string[]]),
    instruction: z.string(),
    reason: z.string(),
  });
}

/**
 * Magentic orchestration: a manager writes a plan (a human may approve, edit or return it), then
 * loops: update a progress ledger, delegate the next step to a specialist, re-plan when progress
 * stalls; finally it writes the answer, which a human may review.
 */
export function decideMagentic(state: RunState, wf: Magentic, ctx: DecideContext): Step {
  const plan = last(state.plans);
  const planCalls = completed(callsFor(state, 'plan'));
  const lastPlanCall = last(planCalls);
  // 1. A plan (or a new revision after a stall or a human's notes).
  if (lastPlanCall && (!plan || lastPlanCall.seq > plan.seq)) {
    const p = lastPlanCall.structured as z.infer<ReturnType<typeof planSchema>>;
    return {
      kind: 'append',
      events: [
        {
          type: 'plan.recorded',
          actor: agentActor(wf.manager),
          data: { revision: state.plans.length, facts: p.facts, steps: p.steps, source: 'manager' },
        },
      ],
    };
  }
  if (!plan || needsReplan(state, wf)) {
    if (planCalls.length > wf.maxRounds) return fail('MAX_REPLANS', 'the manager re-planned too many times');
    const notes = planNotes(state);
    const messages: ChatMessage[] = [
      { role: 'user', content: state.input },
      ...reports(state),
      ...notes.map((n) => ({ role: 'user' as const, content: `Notes on the previous plan: ${n}` })),
    ];
    return callStep(
      callModel(state, ctx, wf.manager, 'plan', messages, {
        structured: { name: 'magentic_plan', schema: planSchema(wf.specialists) },
      }),
    );
  }
  // 2. Plan approval.
  if (wf.planApproval && plan.source === 'manager') {
    const verdict = review(state, ctx, {
      subject: { type: 'plan', revision: plan.revision },
      sameSubject: (s) => s.type === 'plan' && s.revision === plan.revision,
      gate: wf.planApproval,
      kind: 'plan',
      outputSeq: plan.seq,
      title: `Approve plan (revision ${plan.revision})`,
      ask: `The ${wf.manager} proposes this plan. Approve it, edit it, or return it with notes.`,
      payload: { facts: plan.facts, steps: plan.steps },
      allowFeedback: true,
    });
    if (verdict.status === 'pending') return verdict.step;
    if (verdict.status === 'rejected') return cancel(`the plan was rejected: ${verdict.comment}`);
    if (verdict.status === 'feedback') {
      return callStep(
        callModel(
          state,
          ctx,
          wf.manager,
          'plan',
          [
            { role: 'user', content: state.input },
            { role: 'user', content: `Notes on the previous plan: ${verdict.comment}` },
          ],
          {
            structured: { name: 'magentic_plan', schema: planSchema(wf.specialists) },
          },
        ),
      );
    }
    if (verdict.edited) {
      const edited = planSchema(wf.specialists).safeParse(verdict.value);
      if (edited.success && state.plans.every((p) => p.seq <= plan.seq)) {
        // The revision is the editing human's: attribute it to them, not to a placeholder.
        const request = last(requestsAbout(state, (s) => s.type === 'plan' && s.revision === plan.revision));
        const editor = last(request?.votes.filter((v) => v.decision === 'edit') ?? [])?.by.id ?? 'reviewer';
        return {
          kind: 'append',
          events: [
            {
              type: 'plan.recorded',
              actor: { kind: 'human', id: editor },
              data: { revision: state.plans.length, ...edited.data, source: 'human' },
            },
          ],
        };
      }
    }
  }
  // 3. The outer loop: ledger, delegate, until satisfied.
  const final = last(completed(callsFor(state, 'final')));
  if (final) return reviewFindings(state, wf, ctx, final.content, final.seq);
  const ledgerCalls = completed(callsFor(state, 'ledger'));
  const lastLedgerCall = last(ledgerCalls);
  const lastLedger = last(state.ledgers);
  if (lastLedgerCall && (!lastLedger || lastLedgerCall.seq > lastLedger.seq)) {
    const l = lastLedgerCall.structured as z.infer<ReturnType<typeof ledgerSchema>>;
    return { kind: 'append', events: [{ type: 'ledger.updated', actor: agentActor(wf.manager), data: l }] };
  }
  const tasks = turnOutputs(state, 'task');
  const lastTask = last(tasks);
  if (lastLedger && (!lastTask || lastLedger.seq > lastTask.seq) && !(ledgerCalls.length > wf.maxRounds)) {
    if (lastLedger.is_request_satisfied) return finalAnswer(state, wf, ctx);
    if (lastLedger.is_progress_being_made && !lastLedger.is_in_loop) {
      // The delegated task is the specialist's turn, a tool loop when it has tools.
      return turnStep(
        agentTurn(state, ctx, {
          agent: lastLedger.next_speaker,
          purpose: 'task',
          after: lastLedger.seq,
          messages: [{ role: 'user', content: lastLedger.instruction }],
        }),
      );
    }
  }
  if (ledgerCalls.length > wf.maxRounds) return finalAnswer(state, wf, ctx);
  return callStep(
    callModel(
      state,
      ctx,
      wf.manager,
      'ledger',
      [
        { role: 'user', content: state.input },
        {
          role: 'user',
          content: `Plan:\n${plan.steps.map((s, i) => `${i + 1}. ${s.agent}: ${s.task}`).join('\n')}`,
        },
        ...reports(state),
      ],
      { structured: { name: 'progress_ledger', schema: ledgerSchema(wf.specialists) } },
    ),
  );
}

function finalAnswer(state: RunState, wf: Magentic, ctx: DecideContext): Step {
  return callStep(
    callModel(state, ctx, wf.manager, 'final', [
      { role: 'user', content: state.input },
      ...reports(state),
      { role: 'user', content: 'Write the final answer from the reports.' },
    ]),
  );
}

function reviewFindings(
  state: RunState,
  wf: Magentic,
  ctx: DecideContext,
  content: string,
  seq: number,
): Step {
  if (!wf.findingsReview) return finish(content);
  const verdict = review(state, ctx, {
    subject: { type: 'findings' },
    sameSubject: (s) => s.type === 'findings',
    gate: wf.findingsReview,
    outputSeq: seq,
    title: 'Review the findings',
    ask: `Review the ${wf.manager}'s findings before they are final.`,
    payload: { output: content, reports: reports(state).map((m) => m.content) },
    allowFeedback: false,
  });
  if (verdict.status === 'pending') return verdict.step;
  if (verdict.status === 'rejected') return cancel(`the findings were rejected: ${verdict.comment}`);
  return finish(
    verdict.status === 'approved' && verdict.edited
      ? String((verdict.value as { output?: unknown }).output ?? content)
      : content,
  );
}

/** Specialists' reports, as `[name] text` lines the manager reads. */
function reports(state: RunState): ChatMessage[] {
  return turnOutputs(state, 'task').map((c) => ({
    role: 'user',
    content: `[${c.agent}] ${c.content}`,
  }));
}

function planNotes(state: RunState): string[] {
  return feedbackOn(state, (s) => s.type === 'plan');
}

/** Re-plan when the last `maxStalls` ledgers all report no progress or a loop. */
function needsReplan(state: RunState, wf: Magentic): boolean {
  const plan = last(state.plans)!;
  const since = state.ledgers.filter((l) => l.seq > plan.seq);
  const recent = since.slice(-wf.maxStalls);
  return recent.length === wf.maxStalls && recent.every((l) => !l.is_progress_being_made || l.is_in_loop);
}
