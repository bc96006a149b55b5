import {
  Command as Program,
  CommanderError,
  Help,
  Option,
  type Argument,
  type Command as CommanderCommand,
} from 'commander';
import type { Values } from './args';
import type { Command, Context } from './command';
import { AUDIT_COMMANDS } from './commands/audit';
import { AUDIT_TRAIL_COMMANDS } from './commands/audit-trail';
import { completionCommand } from './commands/completion';
import { DECISION_COMMANDS } from './commands/decisions';
import { IMPORT_COMMANDS } from './commands/import';
import { REQUEST_COMMANDS } from './commands/requests';
import { RUN_COMMANDS } from './commands/runs';
import { SPEAK_COMMANDS } from './commands/speak';
import { CliError, EXIT, usageError } from './errors';
import { ParleyClient } from '@parley/client';
import { fromClientError } from './client-errors';

export const COMMANDS: Command[] = [
  ...RUN_COMMANDS,
  ...REQUEST_COMMANDS,
  ...DECISION_COMMANDS,
  ...SPEAK_COMMANDS,
  ...AUDIT_COMMANDS,
  ...IMPORT_COMMANDS,
  ...AUDIT_TRAIL_COMMANDS,
  completionCommand(() => COMMANDS),
];

const EXIT_HELP = `Exit codes:
  0  ok
  1  usage error: unknown command or flag, a missing or bad argument (nothing was sent)
  2  the server refused the request (4xx: its message and code are printed; 401, 403, 409 ...)
  3  cannot reach the server, or it failed (5xx)
  4  verification failed: a tampered, broken or unreadable log
  5  not found: no such run, request or file (404)
  6  run watch: the run failed or was cancelled`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** `run start`: the command's words below the program. */
function pathOf(command: CommanderCommand): string {
  const words: string[] = [];
  for (let c: CommanderCommand | null = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words.join(' ');
}

/** `<workflow>`, `<input...>`, `[name]`: as commander writes them in help. */
function argumentTerm(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

const argumentsOf = (command: CommanderCommand): string =>
  command.registeredArguments.map((a) => argumentTerm(a)).join(' ');

/** The leaf commands under `command`, depth first, in the order they were added. */
function leaves(command: CommanderCommand): CommanderCommand[] {
  return command.commands.flatMap((c) => (c.commands.length ? leaves(c) : [c]));
}

function mainHelp(program: CommanderCommand, helper: Help): string {
  const commands = leaves(program).map((c) => [`${pathOf(c)} ${argumentsOf(c)}`.trim(), c.summary()]);
  const width = Math.max(...commands.map(([term]) => term.length));
  const flags = helper
    .visibleOptions(program)
    .map((o) => [helper.optionTerm(o), helper.optionDescription(o)]);
  const flagWidth = Math.max(...flags.map(([term]) => term.length));
  return [
    'parley: the Parley orchestration server from a terminal or a script',
    '',
    'Usage: parley <command> [arguments] [flags]',
    '',
    'Commands:',
    ...commands.map(([term, summary]) => `  ${term.padEnd(width)}  ${summary}`),
    '',
    'Flags of every command:',
    ...flags.map(([term, description]) => `  ${term.padEnd(flagWidth)}  ${description}`),
    '',
    'Environment: PARLEY_URL (default http://localhost:3000), PARLEY_TOKEN.',
    '`parley <command> --help` describes a command. Full reference: docs/CLI.md.',
    '',
    EXIT_HELP,
    '',
  ].join('\n');
}

/** The program: commander parses, checks arity and writes help; the commands do the rest. */
function program(io: Io, run: (command: Command, ctx: Context) => Promise<void>): Program {
  const root = new Program('parley')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: () => undefined, // errors are printed once, by main (one line, our format)
      outputError: () => undefined,
    })
    .configureHelp({
      showGlobalOptions: true,
      formatHelp: (command, helper) =>
        command.parent ? Help.prototype.formatHelp.call(helper, command, helper) : mainHelp(command, helper),
    })
    .helpOption('-h, --help', 'this help')
    .addOption(new Option('--server <url>', 'the server').env('PARLEY_URL').default('http://localhost:3000'))
    .addOption(new Option('--token <token>', 'your bearer token').env('PARLEY_TOKEN'))
    .addOption(new Option('--json', 'machine-readable output'));
  const groups = new Map<string, CommanderCommand>();
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    let parent: CommanderCommand = root;
    for (const group of words.slice(0, -1)) {
      let next = groups.get(group);
      if (!next) {
        next = parent.command(group);
        groups.set(group, next);
      }
      parent = next;
    }
    const sub = parent
      .command(words[words.length - 1])
      .summary(command.summary)
      .description(
        `${command.summary.charAt(0).toUpperCase()}${command.summary.slice(1)}.` +
          (command.details ? `\n\n${command.details}` : ''),
      );
    for (const [term, description] of command.arguments) sub.argument(term, description);
    sub.usage(`${argumentsOf(sub)} [flags]`.trimStart());
    for (const [name, spec] of Object.entries(command.options)) {
      const flags = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`;
      sub.addOption(new Option(flags, spec.description));
    }
    sub.addHelpText('after', `\n${EXIT_HELP}`);
    sub.action(async () => {
      const values: Values = {};
      const all = sub.optsWithGlobals();
      for (const option of [...sub.options, ...root.options]) {
        values[option.long!.slice(2)] = all[option.attributeName()] as string | boolean | undefined;
      }
      const positionals = sub.processedArgs
        .flat()
        .filter((a) => a !== undefined)
        .map(String);
      await run(command, contextOf(values, positionals, io));
    });
  }
  for (const group of groups.values()) {
    group.summary(`${group.name()}: ${group.commands.map((c) => c.name()).join(', ')}`);
  }
  return root;
}

function contextOf(values: Values, positionals: string[], io: Io): Context {
  const given = values.server as string;
  const token = (values.token as string | undefined) || undefined;
  let client: ParleyClient | undefined;
  const server = given.replace(/\/+$/, '');
  return {
    values,
    positionals,
    json: values.json === true,
    server,
    token,
    client: () => (client ??= new ParleyClient({ baseUrl: checkedServer(given), token })),
    out: io.out,
    err: io.err,
  };
}

/** `--server` must be an http(s) URL: a usage error otherwise, before anything is sent. */
function checkedServer(server: string): string {
  try {
    const url = new URL(server);
    if (url.protocol === 'http:' || url.protocol === 'https:') return server.replace(/\/+$/, '');
  } catch {
    // fall through
  }
  throw usageError(`--server: not an http(s) URL: "${server}"`);
}

/** A parse error of commander, as the usage error it always was (`parley runs: Unknown option '--colour'`). */
function usageOf(error: CommanderError, command: CommanderCommand | undefined): CliError {
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  const path = command ? pathOf(command) : '';
  switch (error.code) {
    case 'commander.unknownCommand':
      return usageError(`unknown command "${[path, quoted].filter(Boolean).join(' ')}"`);
    case 'commander.help': // a group without its subcommand
      return command
        ? usageError(`${path}: name a subcommand: ${command.commands.map((c) => c.name()).join(', ')}`)
        : usageError('name a command');
    case 'commander.unknownOption':
      return usageError(`Unknown option '${quoted}'`);
    case 'commander.missingArgument': {
      const given = command?.args.length ?? 0;
      const missing = (command?.registeredArguments ?? []).slice(given).filter((a) => a.required);
      return usageError(`missing ${missing.map((a) => argumentTerm(a)).join(' ')}`);
    }
    case 'commander.excessArguments':
      return usageError(`unexpected argument "${command?.args[command.registeredArguments.length] ?? ''}"`);
    case 'commander.optionMissingArgument':
      return usageError(`Option '${quoted}' argument missing`);
    default:
      return usageError(error.message.replace(/^error: /, ''));
  }
}

/** Run one command line; resolves to the exit code. Errors are printed here, never thrown. */
export async function main(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.ok;
  let current: CommanderCommand | undefined; // the command being parsed, for messages
  const root = program(io, async (command, ctx) => {
    const result = await command.run(ctx);
    code = typeof result === 'number' ? result : EXIT.ok;
  });
  const track = (_: CommanderCommand, sub: CommanderCommand): void => void (current = sub);
  root.hook('preSubcommand', track);
  for (const group of root.commands) group.hook('preSubcommand', track);
  try {
    await root.parseAsync(argv, { from: 'user' });
    return code;
  } catch (caught) {
    const leaf = current && current.commands.length === 0 ? current : undefined;
    let error = fromClientError(caught);
    if (caught instanceof CommanderError) {
      if (caught.exitCode === 0) return EXIT.ok; // --help
      error = usageOf(caught, current);
    }
    if (error instanceof CliError) {
      const name = leaf ? ` ${pathOf(leaf)}` : '';
      const help = error.exitCode === EXIT.usage ? ` (see: parley${name} --help)` : '';
      io.err(`parley${name}: ${error.message}${help}`);
      return error.exitCode;
    }
    io.err(`parley: unexpected error: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.usage;
  }
}
