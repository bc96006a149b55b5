import { HandoffBody, MessageBody } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';

const say: Command = {
  name: 'say',
  arguments: [
    ['<runId>', 'the run'],
    ['<text...>', 'what you say: the rest of the line'],
  ],
  summary: 'speak in a run (group chat); with the floor open to you it answers it',
  options: {},
  async run(ctx) {
    const [runId, ...words] = ctx.positionals;
    const { text } = validate(MessageBody, { text: words.join(' ') }, { text: '<text>' });
    const answer = await ctx.client().postMessage(runId, text);
    ctx.out(ctx.json ? JSON.stringify({ runId, ...answer }) : `said in ${runId} (seq ${answer.seq})`);
  },
};

const handoff: Command = {
  name: 'handoff',
  arguments: [
    ['<runId>', 'the handoff run'],
    ['<agent>', 'the agent to hand the run to'],
  ],
  summary: 're-route a handoff run to another agent',
  options: { reason: { type: 'string', short: 'r', value: 'text', description: 'why (required)' } },
  async run(ctx) {
    const [runId, to] = ctx.positionals;
    const body = validate(
      HandoffBody,
      { to, reason: ctx.values.reason },
      { to: '<agent>', reason: '--reason' },
    );
    const answer = await ctx.client().reroute(runId, body.to, body.reason);
    ctx.out(
      ctx.json ? JSON.stringify({ runId, to, ...answer }) : `re-routed ${runId} to ${to} (seq ${answer.seq})`,
    );
  },
};

export const SPEAK_COMMANDS: Command[] = [say, handoff];
