import type { Workflow } from '@parley/contracts';
import type { RunState } from '../../run-state';
import type { ChatMessage, DecideContext, ModelCallPlan, Step } from '../../steps';
import { callStep, cancel, fail, finish, last } from '../shared';
import { feedbackOn } from '../../hitl/requests';
import { review } from '../../hitl/review';
import { agentTurn, turnOutputs, turnStep } from '../agent-turn';

type Concurrent = Extract<Workflow, { pattern: 'concurrent' }>;

/**
 * Fan-out / fan-in: every worker gets the input at once (their calls run in parallel), an aggregator
 * combines their results, and a human may validate the aggregate (approve, edit, or send feedback).
 */
export function decideConcurrent(state: RunState, wf: Concurrent, ctx: DecideContext): Step {
  // Each worker's turn is a tool loop of its own. Requested tool calls are recorded first; the
  // workers whose model is to be called (again) are called together, in parallel.
  const calls: ModelCallPlan[] = [];
  let waiting = false;
  for (const w of wf.workers) {
    const turn = agentTurn(state, ctx, {
      agent: w,
      purpose: `worker:${w}`,
      after: 0,
      messages: [{ role: 'user', content: state.input }],
    });
    if (turn.status === 'call') calls.push(turn.plan);
    else if (turn.status === 'pending' && turn.step.kind !== 'wait') return turn.step;
    else if (turn.status === 'pending') waiting = true;
  }
  if (calls.length > 0) return callStep(...calls);
  if (waiting) return { kind: 'wait' };
  const reports = wf.workers
    .map((w) => `[${w}] ${last(turnOutputs(state, `worker:${w}`))!.content}`)
    .join('\n\n');
  const aggregates = turnOutputs(state, 'aggregate');
  const feedback = feedbackOn(state, (s) => s.type === 'result');
  const latest = last(aggregates);
  if (!latest || feedback.length > aggregates.length - 1) {
    if (aggregates.length > wf.maxRevisions + 1)
      return fail('MAX_REVISIONS', 'the aggregate was sent back too many times');
    const messages: ChatMessage[] = [
      { role: 'user', content: `Request: ${state.input}\n\nResults:\n${reports}` },
    ];
    aggregates.forEach((a, i) => {
      messages.push({ role: 'assistant', content: a.content });
      if (feedback[i]) messages.push({ role: 'user', content: `Feedback: ${feedback[i]}` });
    });
    return turnStep(
      agentTurn(state, ctx, {
        agent: wf.aggregator,
        purpose: 'aggregate',
        after: latest?.seq ?? 0,
        messages,
      }),
    );
  }
  if (!wf.validation) return finish(latest.content);
  const verdict = review(state, ctx, {
    subject: { type: 'result' },
    sameSubject: (s) => s.type === 'result',
    gate: wf.validation,
    outputSeq: latest.seq,
    title: 'Validate the aggregated results',
    ask: `Check the ${wf.aggregator}'s combined analysis of ${wf.workers.length} results before it becomes the report.`,
    payload: { output: latest.content, results: reports },
    allowFeedback: aggregates.length <= wf.maxRevisions,
  });
  if (verdict.status === 'pending') return verdict.step;
  if (verdict.status === 'rejected') return cancel(`the aggregate was rejected: ${verdict.comment}`);
  if (verdict.status === 'feedback') return { kind: 'wait' };
  return finish(
    verdict.edited
      ? String((verdict.value as { output?: unknown }).output ?? latest.content)
      : latest.content,
  );
}
