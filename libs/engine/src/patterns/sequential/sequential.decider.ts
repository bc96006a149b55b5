import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { ChatMessage, DecideContext, Step } from '../../steps';
import { cancel, fail, finish, humanMessagesSince, last } from '../shared';
import { feedbackOn } from '../../hitl/requests';
import { review } from '../../hitl/review';
import { agentTurn, turnOutputs, turnStep } from '../agent-turn';

type Sequential = Extract<Workflow, { pattern: 'sequential' }>;

/**
 * A pipeline: each stage's output is the next stage's input. A stage with `review` waits for a
 * human: approve (or edit) passes the output on; feedback has the stage redo its work.
 */
export function decideSequential(state: RunState, wf: Sequential, ctx: DecideContext): Step {
  let input = state.input;
  for (let index = 0; index < wf.stages.length; index++) {
    const stage = wf.stages[index];
    const purpose = `stage:${index}`;
    const outputs = turnOutputs(state, purpose);
    const latest = last(outputs);
    const feedback = feedbackFor(state, index);
    if (!latest || feedback.length > outputs.length - 1) {
      if (outputs.length > wf.maxRevisions + 1) {
        return fail(
          'MAX_REVISIONS',
          `stage ${index} (${stage.agent}) was sent back more than ${wf.maxRevisions} times`,
        );
      }
      const messages: ChatMessage[] = [{ role: 'user', content: input }];
      outputs.forEach((o, i) => {
        messages.push({ role: 'assistant', content: o.content });
        if (feedback[i]) messages.push({ role: 'user', content: `Feedback: ${feedback[i]}` });
      });
      messages.push(...humanMessagesSince(state, 1));
      return turnStep(
        agentTurn(state, ctx, { agent: stage.agent, purpose, after: latest?.seq ?? 0, messages }),
      );
    }
    let output = latest.content;
    if (stage.review) {
      // Sent back maxRevisions times already: this review can only pass the output on or stop the run.
      const lastRevision = outputs.length > wf.maxRevisions;
      const verdict = review(state, ctx, {
        subject: { type: 'stage', index },
        sameSubject: (s) => s.type === 'stage' && s.index === index,
        gate: stage.review,
        outputSeq: latest.seq,
        title: `Review stage ${index + 1} (${stage.agent})`,
        ask: lastRevision
          ? `Last revision: approve the ${stage.agent}'s output, edit it, or reject it, before it goes to the next stage.`
          : `Review the ${stage.agent}'s output before it goes to the next stage: approve, edit it, or send feedback.`,
        payload: { stage: index, agent: stage.agent, output: latest.content },
        allowFeedback: !lastRevision,
      });
      if (verdict.status === 'pending') return verdict.step;
      if (verdict.status === 'rejected')
        return cancel(`stage ${index} rejected by a reviewer: ${verdict.comment}`);
      if (verdict.status === 'feedback') continue; // unreachable: feedback is counted above
      if (verdict.edited) output = String((verdict.value as { output?: unknown })?.output ?? output);
    }
    input = output;
  }
  return finish(input);
}

/** Feedback given on stage `index`, in order (one per returned version). */
function feedbackFor(state: RunState, index: number): string[] {
  return feedbackOn(state, (s) => s.type === 'stage' && s.index === index);
}
