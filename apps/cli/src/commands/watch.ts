import { RunWatchMessage, type EventEnvelope } from '@parley/contracts';
import { fromClientError } from '../client-errors';
import { nonNegativeInt, validate } from '../args';
import type { Command, Context } from '../command';
import { EXIT } from '../errors';
import { EventPrinter } from '../format';

const ENDED: Record<string, number> = {
  'run.completed': EXIT.ok,
  'run.failed': EXIT.runFailed,
  'run.cancelled': EXIT.runFailed,
};

export const watchCommand: Command = {
  name: 'run watch',
  arguments: [['<runId>', 'the run']],
  summary: 'the live transcript of a run (socket.io), until it ends',
  details: [
    'Prints the run from its first event (or after --after), then live events as they happen, and',
    "streams the agents' tokens inline (on a terminal, or with --tokens). Exits when the run completes",
    '(0), fails or is cancelled (6); with --follow it keeps watching. --json prints one event envelope',
    'per line. After a lost connection it reconnects and resumes after the last seq it printed.',
  ].join('\n'),
  options: {
    follow: { type: 'boolean', short: 'f', description: 'keep watching after the run ends' },
    after: { type: 'string', value: 'seq', description: 'start after this seq (default 0: the whole run)' },
    tokens: { type: 'boolean', description: 'stream tokens even when the output is not a terminal' },
  },
  run: (ctx) => watch(ctx),
};

async function watch(ctx: Context): Promise<number> {
  const { runId, afterSeq } = validate(
    RunWatchMessage,
    { runId: ctx.positionals[0], afterSeq: nonNegativeInt(ctx.values.after, '--after') ?? 0 },
    { runId: '<runId>', afterSeq: '--after' },
  );
  const client = ctx.client(); // checks --server
  const follow = ctx.values.follow === true;
  const tty = process.stdout.isTTY === true && !ctx.json;
  const tokens = new TokenStream(tty, ctx.values.tokens === true || tty, ctx.json);
  const printer = new EventPrinter();

  return new Promise<number>((resolve, reject) => {
    let finished = false;
    const finish = (code: number | Error): void => {
      if (finished) return;
      finished = true;
      tokens.end();
      watching.close();
      if (code instanceof Error) reject(fromClientError(code));
      else resolve(code);
    };
    const watching = client.watch(runId, {
      afterSeq,
      retryFirstConnection: false, // an unreachable server is reported at once (exit 3)
      onConnectionLost: (reason) => ctx.err(`parley: connection lost (${reason}), reconnecting…`),
      onError: finish,
      onToken: (token) => tokens.push(token.agent, token.delta),
      onEvent: (event: EventEnvelope) => {
        const lines = ctx.json ? [JSON.stringify(event)] : printer.lines(event);
        const agent =
          event.type.startsWith('model-call.') && event.type !== 'model-call.started'
            ? (event.data as { agent?: string }).agent
            : undefined;
        tokens.around(() => lines.forEach((l) => ctx.out(l)), agent);
        const ended = ENDED[event.type];
        if (ended !== undefined && !follow) finish(ended);
      },
    });
  });
}

/**
 * Tokens while agents speak. On a terminal, the partial messages are drawn below the transcript and
 * replaced by the final message when its event arrives; otherwise (--tokens) they are written inline.
 */
class TokenStream {
  private readonly partial = new Map<string, string>();
  private drawn = '';
  private inline: string | undefined;

  constructor(
    private readonly tty: boolean,
    private readonly enabled: boolean,
    private readonly json: boolean,
  ) {}

  push(agent: string, delta: string): void {
    if (!this.enabled) return;
    if (this.json) return void process.stdout.write(`${JSON.stringify({ type: 'token', agent, delta })}\n`);
    if (!this.tty) {
      if (this.inline !== agent)
        process.stdout.write(`${this.inline !== undefined ? '\n' : ''}      ${agent} ▸ `);
      this.inline = agent;
      return void process.stdout.write(delta);
    }
    const text = (this.partial.get(agent) ?? '') + delta;
    const lastAgent = [...this.partial.keys()].pop();
    this.partial.delete(agent);
    this.partial.set(agent, text);
    if (lastAgent === agent && this.drawn) {
      this.write(delta);
    } else {
      this.erase();
      this.draw();
    }
  }

  /** Print event lines: end (or erase) the token lines first, redraw what is still streaming after. */
  around(print: () => void, finishedAgent?: string): void {
    if (finishedAgent) this.partial.delete(finishedAgent);
    if (!this.tty) {
      if (this.inline !== undefined) process.stdout.write('\n');
      this.inline = undefined;
      return print();
    }
    this.erase();
    print();
    this.draw();
  }

  end(): void {
    if (this.tty) this.erase();
    else if (this.inline !== undefined) process.stdout.write('\n');
    this.inline = undefined;
  }

  private draw(): void {
    for (const [agent, text] of this.partial) this.write(`${this.drawn ? '\n' : ''}      ${agent} ▸ ${text}`);
  }

  private write(text: string): void {
    this.drawn += text;
    process.stdout.write(text);
  }

  private erase(): void {
    if (!this.drawn) return;
    const columns = process.stdout.columns || 80;
    const rows = this.drawn
      .split('\n')
      .reduce((n, line) => n + Math.max(1, Math.ceil([...line].length / columns)), 0);
    process.stdout.write(`\r${rows > 1 ? `\x1b[${rows - 1}A` : ''}\x1b[J`);
    this.drawn = '';
  }
}
