import { z } from 'zod';
import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { ChatMessage, DecideContext, Step } from '../../steps';
import { callModel, callStep, callsFor, cancel, completed, finish, last } from '../shared';
import { feedbackOn } from '../../hitl/requests';
import { review } from '../../hitl/review';
import { agentTurn, turnOutputs, turnStep } from '../agent-turn';

type MakerChecker = Extract<Workflow, { pattern: 'maker-checker' }>;

export const CheckerVerdict = z.strictObject({
  verdict: z.enum(['approve', 'revise']),
  feedback: z.string(),
});

/**
 * A maker drafts; a checker (an agent, or a human) approves or returns feedback for another round,
 * up to `maxRounds`. After the last round the human can only approve or reject.
 */
export function decideMakerChecker(state: RunState, wf: MakerChecker, ctx: DecideContext): Step {
  const drafts = turnOutputs(state, 'draft');
  const feedback = feedbackSoFar(state);
  const latest = last(drafts);
  if (!latest || feedback.length >= drafts.length) {
    if (drafts.length >= wf.maxRounds) {
      return finish(`${latest?.content ?? ''}\n\n(Not approved after ${wf.maxRounds} rounds.)`.trim());
    }
    const messages: ChatMessage[] = [{ role: 'user', content: state.input }];
    drafts.forEach((d, i) => {
      messages.push({ role: 'assistant', content: d.content });
      if (feedback[i]) messages.push({ role: 'user', content: `Feedback: ${feedback[i]}` });
    });
    return turnStep(
      agentTurn(state, ctx, { agent: wf.maker, purpose: 'draft', after: latest?.seq ?? 0, messages }),
    );
  }
  const round = drafts.length;
  if (typeof wf.checker === 'string') {
    const checks = completed(callsFor(state, 'check')).filter((c) => c.seq > latest.seq);
    const check = last(checks);
    if (!check) {
      const messages: ChatMessage[] = [
        {
          role: 'user',
          content: `Request: ${state.input}\n\nDraft (round ${round} of ${wf.maxRounds}):\n${latest.content}`,
        },
        ...feedback.map((f) => ({ role: 'user' as const, content: `Feedback: ${f}` })),
      ];
      return callStep(
        callModel(state, ctx, wf.checker, 'check', messages, {
          structured: { name: 'checker_verdict', schema: CheckerVerdict },
        }),
      );
    }
    return finish(latest.content); // a 'revise' verdict was counted as feedback above
  }
  const verdict = review(state, ctx, {
    subject: { type: 'draft', round },
    sameSubject: (s) => s.type === 'draft' && s.round === round,
    gate: wf.checker.human,
    outputSeq: latest.seq,
    title: `Check draft ${round} of ${wf.maxRounds}`,
    ask:
      round < wf.maxRounds
        ? `Approve the ${wf.maker}'s draft, edit it, or send feedback for another round.`
        : `Last round: approve or reject the ${wf.maker}'s draft.`,
    payload: { round, draft: latest.content },
    allowFeedback: round < wf.maxRounds,
  });
  if (verdict.status === 'pending') return verdict.step;
  if (verdict.status === 'rejected') return cancel(`the draft was rejected: ${verdict.comment}`);
  if (verdict.status === 'feedback') return { kind: 'wait' };
  return finish(
    verdict.edited ? String((verdict.value as { draft?: unknown }).draft ?? latest.content) : latest.content,
  );
}

/** Feedback per round: from the checker agent's `revise` verdicts, or from the human checker. */
function feedbackSoFar(state: RunState): string[] {
  const fromAgent = completed(callsFor(state, 'check'))
    .map((c) => CheckerVerdict.safeParse(c.structured))
    .filter((v) => v.success && v.data.verdict === 'revise')
    .map((v) => (v.success ? v.data.feedback : ''));
  const fromHuman = feedbackOn(state, (s) => s.type === 'draft');
  return [...fromAgent, ...fromHuman];
}
