import { ForkBody, ListRunsQuery, RetryBody, StartRunBody, CancelBody } from '@parley/contracts';
import { positiveInt, validate } from '../args';
import type { Command } from '../command';
import { formatState, table } from '../format';
import { watchCommand } from './watch';

const runs: Command = {
  name: 'runs',
  arguments: [],
  summary: 'list runs, newest first, a page at a time',
  details:
    'Prints one page (--limit, default 50, at most 500) and, when there are more, the --cursor of the next page. With --json: {runs, total, nextCursor}.',
  options: {
    status: {
      type: 'string',
      value: 'status',
      description: 'running | waiting | completed | failed | cancelled',
    },
    workflow: { type: 'string', value: 'name', description: 'only runs of this workflow' },
    search: {
      type: 'string',
      value: 'text',
      description: 'only runs whose title, workflow or id contain it',
    },
    limit: { type: 'string', value: 'n', description: 'runs per page (default 50, at most 500)' },
    cursor: {
      type: 'string',
      value: 'cursor',
      description: 'the next page: the cursor a page before printed',
    },
  },
  async run(ctx) {
    const query = validate(
      ListRunsQuery,
      {
        status: ctx.values.status,
        workflow: ctx.values.workflow,
        q: ctx.values.search,
        limit: ctx.values.limit,
        cursor: ctx.values.cursor,
      },
      { status: '--status', workflow: '--workflow', q: '--search', limit: '--limit', cursor: '--cursor' },
    );
    const page = await ctx.client().runsPage(query);
    if (ctx.json) return ctx.out(JSON.stringify(page));
    if (!page.runs.length) return ctx.out('no runs');
    ctx.out(
      table(
        ['RUN', 'WORKFLOW', 'STATUS', 'BY', 'OPEN', 'SEQ', 'UPDATED', 'WAITING-ON', 'TITLE'],
        page.runs.map((r) => [
          r.runId,
          r.workflow,
          r.status,
          r.requestedBy,
          String(r.openRequests),
          String(r.seq),
          r.updatedAt,
          (r.waitingOn ?? []).map((w) => `${w.kind}:${w.roles.join('/')}`).join(',') || '-',
          r.title ?? '',
        ]),
      ),
    );
    ctx.out(
      page.nextCursor
        ? `${page.runs.length} of ${page.total}; next page: --cursor ${page.nextCursor}`
        : `${page.runs.length} of ${page.total}`,
    );
  },
};

const start: Command = {
  name: 'run start',
  arguments: [
    ['<workflow>', 'the workflow (GET /api/workflows)'],
    ['<input...>', 'the input: the rest of the line'],
  ],
  summary: 'start a run; prints its runId',
  details:
    'The input is the rest of the line (quote it or not). The same --idempotency-key again returns the same run.',
  options: { 'idempotency-key': { type: 'string', value: 'key', description: 'start at most once per key' } },
  async run(ctx) {
    const [workflow, ...words] = ctx.positionals;
    const body = validate(
      StartRunBody,
      { workflow, input: words.join(' '), idempotencyKey: ctx.values['idempotency-key'] },
      { workflow: '<workflow>', input: '<input>', idempotencyKey: '--idempotency-key' },
    );
    const answer = await ctx.client().startRun(body);
    ctx.out(ctx.json ? JSON.stringify({ runId: answer.runId, created: answer.created }) : answer.runId);
  },
};

const show: Command = {
  name: 'run show',
  arguments: [['<runId>', 'the run']],
  summary: 'a run now: status, transcript, pending requests, output',
  options: {},
  async run(ctx) {
    const view = await ctx.client().getRun(ctx.positionals[0]);
    ctx.out(ctx.json ? JSON.stringify(view) : formatState(view));
  },
};

const cancel: Command = {
  name: 'cancel',
  arguments: [['<runId>', 'the run']],
  summary: 'cancel a run: it stops where it is, its open requests close',
  details:
    "Refused (409) for a run that already ended. By default the requester and admins may cancel (the workflow's permissions.cancel).",
  options: {
    reason: { type: 'string', short: 'r', value: 'text', description: 'why (recorded in the log)' },
  },
  async run(ctx) {
    const [runId] = ctx.positionals;
    const { reason } = validate(CancelBody, { reason: ctx.values.reason }, { reason: '--reason' });
    const view = await ctx.client().cancel(runId, reason);
    ctx.out(ctx.json ? JSON.stringify(view) : `cancelled ${runId} at seq ${view.seq}`);
  },
};

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
    const { reason } = validate(RetryBody, { reason: ctx.values.reason }, { reason: '--reason' });
    const view = await ctx.client().retry(runId, reason);
    ctx.out(ctx.json ? JSON.stringify(view) : `retried ${runId}: ${view.status} at seq ${view.seq}`);
  },
};

const fork: Command = {
  name: 'fork',
  arguments: [['<runId>', 'the run to fork']],
  summary: 'a new run from the events of another up to a seq (what-if); prints the new runId',
  details:
    'The fork replays the first --at events (no model or tool call is repeated) and continues from there; with --message a human message is added first. Gates still hold: a tool call that needed an approval needs one again.',
  options: {
    at: { type: 'string', value: 'seq', description: 'the last event kept (required)' },
    note: { type: 'string', short: 'n', value: 'text', description: 'why you fork (required)' },
    message: { type: 'string', value: 'text', description: 'a human message the fork starts with' },
  },
  async run(ctx) {
    const [runId] = ctx.positionals;
    const body = validate(
      ForkBody,
      { atSeq: positiveInt(ctx.values.at, '--at'), note: ctx.values.note, message: ctx.values.message },
      { atSeq: '--at', note: '--note', message: '--message' },
    );
    const answer = await ctx.client().fork(runId, body);
    ctx.out(ctx.json ? JSON.stringify(answer) : answer.runId);
  },
};

export const RUN_COMMANDS: Command[] = [runs, start, show, watchCommand, cancel, retry, fork];
