import { ListRequestsQuery, type RequestView } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';
import { table } from '../format';

const inbox: Command = {
  name: 'inbox',
  arguments: [],
  summary: 'the open requests you may act on: id, kind, run, title, deadline',
  options: {
    kind: {
      type: 'string',
      value: 'kind',
      description: 'approval | escalation | review | confirmation | plan | input | reconcile',
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
    // every page: a script reads the whole inbox (`--json | jq`)
    const requests = await ctx.client().allRequests(query);
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

/** A request for people: what is asked, what is shown and its hash, who may decide and how. */
export function formatRequest(r: RequestView): string {
  const lines = [
    `request ${r.id} (${r.kind}) ${r.status}${r.outcome ? `: ${r.outcome}` : ''}`,
    `run:          ${r.runId ?? '-'}`,
    `title:        ${r.title}`,
    `ask:          ${r.ask}`,
    `for:          ${r.roles.join(', ')}${r.quorum > 1 ? `, quorum ${r.quorum}` : ''}${r.fourEyes ? ', four-eyes (not the requester)' : ''}`,
    `requester:    ${r.requester}`,
    `decisions:    ${r.decisions.join(', ')}`,
    `deadline:     ${r.deadline ?? 'none'}${r.onTimeout ? ` (then ${r.onTimeout.action})` : ''}`,
  ];
  if (r.claimedBy) lines.push(`claimed by:   ${r.claimedBy.id} (${r.claimedBy.role})`);
  if (r.editedBy) lines.push(`edited by:    ${r.editedBy.id} (${r.editedBy.role})`);
  for (const v of r.votes)
    lines.push(
      `vote:         #${v.seq} ${v.by.id} (${v.by.role}) ${v.decision}${v.comment ? `: "${v.comment}"` : ''}`,
    );
  lines.push(`payload hash: ${r.payloadHash}`, 'payload:', JSON.stringify(r.payload, null, 2));
  return lines.join('\n');
}

const show: Command = {
  name: 'request show',
  arguments: [['<requestId>', 'the request (parley inbox lists them)']],
  summary: 'one request: what is asked, the payload shown and its hash, who may decide and how',
  details:
    'The payload hash is the version a decision is about; the decision commands read it themselves, so a payload edited meanwhile is refused (REQUEST.STALE_PAYLOAD) instead of decided unseen.',
  options: {},
  async run(ctx) {
    const request = await ctx.client().request(ctx.positionals[0]);
    ctx.out(ctx.json ? JSON.stringify(request) : formatRequest(request));
  },
};

export const REQUEST_COMMANDS: Command[] = [inbox, show];
