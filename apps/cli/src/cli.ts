import { GLOBAL_OPTIONS, parse, splitCommand, type Options } from './args';
import type { Command, Context } from './command';
import { AUDIT_COMMANDS } from './commands/audit';
import { REQUEST_COMMANDS } from './commands/requests';
import { RETRY_COMMANDS } from './commands/retry';
import { RUN_COMMANDS } from './commands/runs';
import { SPEAK_COMMANDS } from './commands/speak';
import { CliError, EXIT, usageError } from './errors';
import { Http } from './http';

export const COMMANDS: Command[] = [
  ...RUN_COMMANDS,
  ...REQUEST_COMMANDS,
  ...SPEAK_COMMANDS,
  ...RETRY_COMMANDS,
  ...AUDIT_COMMANDS,
];

const EXIT_HELP = `Exit codes:
  0  ok
  1  usage error: unknown command or flag, a missing or bad argument (nothing was sent)
  2  the server refused the request (4xx: its message and code are printed; 401, 403, 409 ...)
  3  cannot reach the server, or it failed (5xx)
  4  verification failed: a tampered, broken or unreadable log
  5  not found: no such run, request or file (404)
  6  run watch: the run failed or was cancelled`;

function flags(options: Options): string {
  return Object.entries(options)
    .map(([name, spec]) => {
      const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` <${spec.value}>` : ''}`;
      return `  ${left.padEnd(30)}${spec.description}`;
    })
    .join('\n');
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args}`.length));
  return [
    'parley: the Parley orchestration server from a terminal or a script',
    '',
    'Usage: parley <command> [arguments] [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.trim().padEnd(width)}  ${c.summary}`),
    '',
    'Flags of every command:',
    flags(GLOBAL_OPTIONS),
    '',
    'Environment: PARLEY_URL (default http://localhost:3000), PARLEY_TOKEN.',
    '`parley <command> --help` describes a command. Full reference: docs/CLI.md.',
    '',
    EXIT_HELP,
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `Usage: parley ${command.name} ${command.args}`.trimEnd() + ' [flags]',
    '',
    command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + '.',
    ...(command.details ? ['', command.details] : []),
    '',
    'Flags:',
    ...(Object.keys(command.options).length ? [flags(command.options)] : []),
    flags(GLOBAL_OPTIONS),
    '',
    EXIT_HELP,
  ].join('\n');
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

/** Run one command line; resolves to the exit code. Errors are printed here, never thrown. */
export async function main(argv: string[], io: Io): Promise<number> {
  let command: Command | undefined;
  try {
    const { words, rest } = splitCommand(argv);
    const wantsHelp = rest.includes('--help') || rest.includes('-h');
    if (words[0] === 'help') {
      const topic = COMMANDS.find((c) => c.name === words.slice(1).concat(rest).join(' '));
      io.out(topic ? commandHelp(topic) : mainHelp());
      return EXIT.ok;
    }
    if (words.length === 0) {
      if (wantsHelp) {
        io.out(mainHelp());
        return EXIT.ok;
      }
      throw usageError('name a command');
    }
    const name = words.join(' ');
    command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      if (words[0] === 'run' && words.length === 1)
        throw usageError('run: name a subcommand: start, watch or show');
      throw usageError(`unknown command "${name}"`);
    }
    if (wantsHelp) {
      io.out(commandHelp(command));
      return EXIT.ok;
    }
    const { values, positionals } = parse(rest, command.options);
    const names = command.args.split(' ').filter(Boolean);
    if (positionals.length < command.min)
      throw usageError(`missing ${names.slice(positionals.length, command.min).join(' ')}`);
    if (positionals.length > command.max)
      throw usageError(`unexpected argument "${positionals[command.max]}"`);
    const server = (values.server as string | undefined) ?? io.env.PARLEY_URL ?? 'http://localhost:3000';
    const token = (values.token as string | undefined) ?? io.env.PARLEY_TOKEN;
    let http: Http | undefined;
    const ctx: Context = {
      values,
      positionals,
      json: values.json === true,
      server,
      token: token || undefined,
      http: () => (http ??= new Http(server, token || undefined)),
      out: io.out,
      err: io.err,
    };
    const code = await command.run(ctx);
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      const help =
        error.exitCode === EXIT.usage ? ` (see: parley ${command ? `${command.name} ` : ''}--help)` : '';
      io.err(`parley${command ? ` ${command.name}` : ''}: ${error.message}${help}`);
      return error.exitCode;
    }
    io.err(`parley: unexpected error: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.usage;
  }
}
