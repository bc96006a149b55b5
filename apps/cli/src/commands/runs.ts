import { ListRunsQuery, StartRunBody } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';
import { formatState, table, type RunViewLike } from '../format';
import { watchCommand } from './watch';

interface RunSummary {
  runId: string;
  workflow: string;
  status: string;
  requestedBy: string;
  updatedAt: string;
  seq: number;
  openRequests: number;
}

const runs: Command = {
  name: 'runs',
  arguments: [],
  summary: 'list runs',
  options: {
    status: {
      type: 'string',
      value: 'status',
      description: 'running | waiting | completed | failed | cancelled',
    },
    workflow: { type: 'string', value: 'name', description: 'only runs of this workflow' },
  },
  async run(ctx) {
    const query = validate(
      ListRunsQuery,
      { status: ctx.values.status, workflow: ctx.values.workflow },
      { status: '--status', workflow: '--workflow' },
    );
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const { runs: list } = await ctx
      .http()
      .get<{ runs: RunSummary[] }>(`/api/runs${params.size ? `?${params}` : ''}`);
    if (ctx.json) return ctx.out(JSON.stringify(list));
    if (!list.length) return ctx.out('no runs');
    ctx.out(
      table(
        ['RUN', 'WORKFLOW', 'STATUS', 'BY', 'OPEN', 'SEQ', 'UPDATED'],
        list.map((r) => [
          r.runId,
          r.workflow,
          r.status,
          r.requestedBy,
          String(r.openRequests),
          String(r.seq),
          r.updatedAt,
        ]),
      ),
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
    const { status, body: answer } = await ctx.http().post<{ runId: string }>('/api/runs', body);
    ctx.out(ctx.json ? JSON.stringify({ runId: answer.runId, created: status === 201 }) : answer.runId);
  },
};

const show: Command = {
  name: 'run show',
  arguments: [['<runId>', 'the run']],
  summary: 'a run now: status, transcript, pending requests, output',
  options: {},
  async run(ctx) {
    const view = await ctx.http().get<RunViewLike>(`/api/runs/${encodeURIComponent(ctx.positionals[0])}`);
    ctx.out(ctx.json ? JSON.stringify(view) : formatState(view));
  },
};

export const RUN_COMMANDS: Command[] = [runs, start, show, watchCommand];
