import type { AuditResponse } from '@parley/contracts';
import type { Command } from '../command';

type AuditAnswer = AuditResponse;
type Actor = AuditResponse['actions'][number]['by'];

const VERBS: Record<string, string> = {
  'run.started': 'started the run',
  'run.cancelled': 'cancelled the run',
  'run.imported': 'imported the run',
  'run.retried': 'retried the run',
  'handoff.overridden': 're-routed',
  'human-request.claimed': 'claimed',
  'human-request.released': 'handed back',
};

const who = (a: Actor): string => `${a.kind}:${a.id}${a.role ? ` (${a.role})` : ''}`;
const seq = (n: number): string => `#${String(n).padStart(3)}`;

/** The audit trail as text: who took each action on the run, then who decided each request. */
export function formatAudit(a: AuditAnswer): string {
  const out = [`run ${a.runId}`, 'actions:'];
  for (const x of a.actions) {
    const verb =
      x.type === 'run.started' && x.forkOf
        ? `forked it from ${x.forkOf.runId} at seq ${x.forkOf.atSeq}`
        : x.type === 'handoff.overridden'
          ? `re-routed to ${x.to}`
          : x.type === 'human-request.claimed'
            ? `claimed ${x.requestId}`
            : x.type === 'human-request.released'
              ? `handed ${x.requestId} back`
              : (VERBS[x.type] ?? x.type);
    out.push(`  ${seq(x.seq)}  ${x.at}  ${who(x.by)} ${verb}${x.note ? `: ${x.note}` : ''}`);
  }
  out.push('requests:');
  if (a.requests.length === 0) out.push('  none');
  for (const r of a.requests) {
    const end = r.outcome ? `${r.outcome.status} (${r.outcome.outcome}) at #${r.outcome.seq}` : 'open';
    out.push(
      `  ${r.requestId}  ${r.kind} for ${r.roles.join(', ')}: ${r.title}, opened at #${r.opened.seq}, ${end}`,
    );
    for (const c of r.claims) out.push(`    ${seq(c.seq)}  ${c.by.id} (${c.by.role}) claimed it`);
    for (const d of r.decisions)
      out.push(
        `    ${seq(d.seq)}  ${d.at}  ${d.by.id} (${d.by.role}) ${d.decision}${d.comment ? `: "${d.comment}"` : ''} [shown ${d.payloadHash.slice(0, 12)}]`,
      );
    if (r.decisions.length === 0) out.push('    decisions: none');
  }
  return out.join('\n');
}

const audit: Command = {
  name: 'audit',
  arguments: [['<runId>', 'the run']],
  summary:
    'who did what in a run: every action (start, fork, cancel, import, retry, re-route, claim) and decision',
  details:
    'GET /api/runs/:runId/audit: each action with the actor (human, agent or service, id and role) and their note; each request with who claimed and decided it, their comment and the hash of the payload they were shown.',
  options: {},
  async run(ctx) {
    const [runId] = ctx.positionals;
    const answer = await ctx.client().audit(runId);
    ctx.out(ctx.json ? JSON.stringify(answer) : formatAudit(answer));
  },
};

export const AUDIT_TRAIL_COMMANDS: Command[] = [audit];
