import { DecisionBody, ListRequestsQuery } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';
import { table } from '../format';

interface RequestSummary {
  id: string;
  runId: string;
  kind: string;
  title: string;
  roles: string[];
  deadline: string | null;
  claimedBy?: string;
}

const inbox: Command = {
  name: 'inbox',
  arguments: [],
  summary: 'the open requests you may act on: id, kind, run, title, deadline',
  options: {
    kind: {
      type: 'string',
      value: 'kind',
      description: 'approval | escalation | review | confirmation | plan | input',
    },
    role: { type: 'string', value: 'role', description: 'only requests open to this role' },
    run: { type: 'string', value: 'runId', description: 'only requests of this run' },
  },
  async run(ctx) {
    const query = validate(
      ListRequestsQuery,
      { status: 'open', kind: ctx.values.kind, role: ctx.values.role, runId: ctx.values.run },
      { kind: '--kind', role: '--role', runId: '--run' },
    );
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const { requests } = await ctx.http().get<{ requests: RequestSummary[] }>(`/api/requests?${params}`);
    if (ctx.json) return ctx.out(JSON.stringify(requests));
    if (!requests.length) return ctx.out('inbox: nothing open for you');
    ctx.out(
      table(
        ['ID', 'KIND', 'RUN', 'TITLE', 'DEADLINE'],
        requests.map((r) => [
          r.id,
          r.kind,
          r.runId,
          r.title + (r.claimedBy ? ` (claimed by ${r.claimedBy})` : ''),
          r.deadline ?? '-',
        ]),
      ),
    );
  },
};

interface DecisionAnswer {
  status: 'resolved' | 'recorded' | 'unchanged';
  requestId: string;
  votes?: number;
  quorum?: number;
}

function decisionCommand(decision: 'approve' | 'reject', past: string): Command {
  return {
    name: decision,
    arguments: [['<requestId>', 'the request (parley inbox lists them)']],
    summary: `${decision} a request`,
    options: {
      comment: { type: 'string', short: 'm', value: 'text', description: 'why (kept in the audit trail)' },
      hash: {
        type: 'string',
        value: 'payloadHash',
        description:
          'the payloadHash of the version you were shown (console, GET /api/requests/<id>): refused if it changed since',
      },
    },
    async run(ctx) {
      const requestId = ctx.positionals[0];
      // Without --hash the decision is about the payload as the request opened; once an approver has
      // edited it, the server asks for the hash of the version you approve (REQUEST.PAYLOAD_HASH_REQUIRED).
      const body = validate(
        DecisionBody,
        { decision, comment: ctx.values.comment, payloadHash: ctx.values.hash },
        { comment: '--comment', decision: 'decision', payloadHash: '--hash' },
      );
      const { body: answer } = await ctx
        .http()
        .post<DecisionAnswer>(`/api/requests/${encodeURIComponent(requestId)}/decision`, body);
      if (ctx.json) return ctx.out(JSON.stringify(answer));
      const detail =
        answer.status === 'recorded'
          ? `your vote is recorded (${answer.votes}/${answer.quorum}); the request stays open`
          : answer.status === 'unchanged'
            ? 'you had already decided the same'
            : 'the request is resolved';
      ctx.out(`${past} ${requestId}: ${detail}`);
    },
  };
}

export const REQUEST_COMMANDS: Command[] = [
  inbox,
  decisionCommand('approve', 'approved'),
  decisionCommand('reject', 'rejected'),
];
