import { RetryBody } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';
import type { RunViewLike } from '../format';

const retry: Command = {
  name: 'retry',
  arguments: [['<runId>', 'the failed run']],
  summary: 'continue a failed run from its failed step',
  details:
    "Only a run that failed on a model call (409 RUN.NOT_FAILED / RUN.NOT_RETRIABLE otherwise). Nothing recorded is repeated: completed calls and tool effects stay done. By default the requester and approvers may retry (the workflow's permissions.retry).",
  options: {
    reason: { type: 'string', short: 'r', value: 'text', description: 'why (recorded in the log)' },
  },
  async run(ctx) {
    const [runId] = ctx.positionals;
    const body = validate(RetryBody, { reason: ctx.values.reason }, { reason: '--reason' });
    const { body: view } = await ctx
      .http()
      .post<RunViewLike>(`/api/runs/${encodeURIComponent(runId)}/retry`, body);
    ctx.out(ctx.json ? JSON.stringify(view) : `retried ${runId}: ${view.status} at seq ${view.seq}`);
  },
};

export const RETRY_COMMANDS: Command[] = [retry];
