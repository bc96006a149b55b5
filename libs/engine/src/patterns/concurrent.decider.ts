import type { Workflow } from '@parley/contracts';
import type { RunState } from '../run-state';
import type { ChatMessage, DecideContext, Step } from '../steps';
import {
  callModel,
  callStep,
  callsFor,
  cancel,
  completed,
  fail,
  feedbackOn,
  finish,
  last,
  review,
} from './shared';

type Concurrent = Extract<Workflow, { pattern: 'concurrent' }>;

/**
 * Fan-out / fan-in: every worker gets the input at once (their calls run in parallel), an aggregator
 * combines their results, and a human may validate the aggregate (approve, edit, or send feedback).
 */
export function decideConcurrent(state: RunState, wf: Concurrent, ctx: DecideContext): Step {
  const missing = wf.workers.filter((w) => completed(callsFor(state, `worker:${w}`)).length === 0);
  if (missing.length > 0) {
    return callStep(
      ...missing.map((w) =>
        callModel(state, ctx, w, `worker:${w}`, [{ role: 'user', content: state.input }]),
      ),
    );
  }
  const reports = wf.workers
    .map((w) => `[${w}] ${last(completed(callsFor(state, `worker:${w}`)))!.content}`)
    .join('\n\n');
  const aggregates = completed(callsFor(state, 'aggregate'));
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
    return callStep(callModel(state, ctx, wf.aggregator, 'aggregate', messages));
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
