import { readFileSync } from 'node:fs';
import { DECISIONS_NEEDING_COMMENT, DecisionBody, type Decision } from '@parley/contracts';
import { validate } from '../args';
import type { Command, Context } from '../command';
import { usageError } from '../errors';
import { PAST } from '../format';

const HASH_HELP =
  'the payloadHash of the version you decide on (parley request show); by default the request is read first and its current hash is sent, so a payload edited meanwhile by someone else is refused';

const WHAT: Record<Decision, string> = {
  approve: 'approve a request (a tool call, a stage, a result, a plan ...)',
  reject: 'reject a request',
  edit: 'approve a request with an edited payload (--payload)',
  feedback: 'send a draft back with feedback for the next round (maker-checker, review)',
  confirm: 'confirm what an agent proposed ("I will refund $50. Confirm?")',
  decline: 'decline what an agent proposed',
  answer: 'answer an input request or an escalation',
  handback: 'hand an escalation back to the agent with guidance',
  close: 'close an escalation: nothing more to do',
  skip: 'skip your turn when the floor is open to you (group chat)',
};

/** `--payload '{"amount": 50}'` or `--payload @file.json`: JSON, or a usage error naming the flag. */
function payloadOf(value: string | boolean | undefined): unknown {
  if (value === undefined) return undefined;
  const text = String(value);
  let source = text;
  if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8');
    } catch (error) {
      throw usageError(`--payload: cannot read ${text.slice(1)} (${(error as NodeJS.ErrnoException).code})`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    throw usageError(`--payload: not JSON (${(error as Error).message})`);
  }
}

async function decide(ctx: Context, decision: Decision): Promise<void> {
  const requestId = ctx.positionals[0];
  const comment = ctx.values.comment as string | undefined;
  if (DECISIONS_NEEDING_COMMENT.includes(decision) && !comment?.trim())
    throw usageError(`--comment: required (${decision} gives the agent your words)`);
  const payload = payloadOf(ctx.values.payload);
  if (decision === 'edit' && payload === undefined)
    throw usageError('--payload: required (the edited version)');
  const body = validate(
    DecisionBody,
    { decision, comment, payload, payloadHash: ctx.values.hash },
    { comment: '--comment', decision: 'decision', payload: '--payload', payloadHash: '--hash' },
  );
  const answer = await ctx.client().decide(requestId, body);
  if (ctx.json) return ctx.out(JSON.stringify(answer));
  const detail =
    answer.status === 'recorded'
      ? `your vote is recorded (${answer.votes}/${answer.quorum}); the request stays open`
      : answer.status === 'unchanged'
        ? 'you had already decided the same'
        : 'the request is resolved';
  ctx.out(`${PAST[decision]} ${requestId}: ${detail}`);
}

function decisionCommand(decision: Decision): Command {
  const needsComment = DECISIONS_NEEDING_COMMENT.includes(decision);
  return {
    name: decision,
    arguments: [['<requestId>', 'the request (parley inbox lists them)']],
    summary: WHAT[decision],
    details:
      'Refused (exit 2) when the request does not take this decision, when you may not decide it, or when its payload changed since you read it.',
    options: {
      comment: {
        type: 'string',
        short: 'm',
        value: 'text',
        description: needsComment ? 'your words to the agent (required)' : 'why (kept in the audit trail)',
      },
      ...(decision === 'edit'
        ? {
            payload: {
              type: 'string' as const,
              value: 'json|@file',
              description: 'the edited payload, as JSON or @file.json (required)',
            },
          }
        : {}),
      hash: { type: 'string', value: 'payloadHash', description: HASH_HELP },
    },
    run: (ctx) => decide(ctx, decision),
  };
}

const claim: Command = {
  name: 'claim',
  arguments: [['<requestId>', 'the request']],
  summary: 'claim a request: you take it, others may no longer decide it',
  options: {},
  async run(ctx) {
    const requestId = ctx.positionals[0];
    const answer = await ctx.client().claim(requestId);
    ctx.out(ctx.json ? JSON.stringify(answer) : `claimed ${requestId}`);
  },
};

const release: Command = {
  name: 'release',
  arguments: [['<requestId>', 'a request you claimed']],
  summary: 'hand a claimed request back: anyone it is for may claim or decide it again',
  details: 'Its claimer or an admin may release it (else exit 2).',
  options: {},
  async run(ctx) {
    const requestId = ctx.positionals[0];
    const answer = await ctx.client().release(requestId);
    ctx.out(ctx.json ? JSON.stringify(answer) : `released ${requestId}`);
  },
};

export const DECISION_COMMANDS: Command[] = [
  ...(['approve', 'reject', 'edit', 'feedback', 'confirm', 'decline', 'answer', 'skip'] as const).map(
    decisionCommand,
  ),
  claim,
  release,
  decisionCommand('handback'),
  decisionCommand('close'),
];
