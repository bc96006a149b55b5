import type { Command } from '../command';
import { usageError } from '../errors';

/** The flags every command takes (cli.ts adds them to the program). */
const GLOBAL_FLAGS = ['--server', '--token', '--json', '--help'];
/** Commands whose argument is a file (an export): the shell completes file names for them. */
const FILE_COMMANDS = new Set(['verify', 'replay', 'import']);

/**
 * A bash completion script for these commands (zsh loads it through bashcompinit). It completes
 * command words, then each command's flags, and file names where a command takes a file.
 */
export function bashCompletion(commands: Command[]): string {
  const top = new Set<string>();
  const groups = new Map<string, string[]>();
  const cases: string[] = [];
  for (const command of commands) {
    const words = command.name.split(' ');
    top.add(words[0]);
    if (words.length > 1) groups.set(words[0], [...(groups.get(words[0]) ?? []), words[1]]);
    const flags = [...Object.keys(command.options).map((f) => `--${f}`), ...GLOBAL_FLAGS].join(' ');
    const files = FILE_COMMANDS.has(command.name) ? ' files=1;' : '';
    cases.push(`    '${command.name}') flags='${flags}';${files} ;;`);
  }
  for (const [group, subs] of groups) cases.push(`    '${group}') words='${subs.join(' ')}' ;;`);
  return `# parley shell completion (bash; zsh: autoload -U bashcompinit && bashcompinit first)
#   source <(parley completion bash)     or save it in /etc/bash_completion.d/parley
_parley_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" w words="" flags="" files=""
  local groups=" ${[...groups.keys()].join(' ')} "
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in
      -*) ;;
      *) if [[ -z "$key" ]]; then key="$w";
         elif [[ "$groups" == *" $key "* && "$key" != *" "* ]]; then key="$key $w";
         fi ;;
    esac
  done
  case "$key" in
    '') words='${[...top].join(' ')}' ;;
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [[ -n "$words" ]]; then
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  elif [[ -n "$files" ]]; then
    COMPREPLY=( $(compgen -f -- "$cur") )
  else
    COMPREPLY=()
  fi
}
complete -o default -F _parley_complete parley
`;
}

/** `parley completion bash`: built from the command table it is given. */
export function completionCommand(commands: () => Command[]): Command {
  return {
    name: 'completion',
    arguments: [['[shell]', 'bash (default) or zsh']],
    summary: 'print a shell completion script: source <(parley completion bash)',
    options: {},
    async run(ctx) {
      const shell = ctx.positionals[0] ?? 'bash';
      if (shell !== 'bash' && shell !== 'zsh') throw usageError(`[shell]: bash or zsh, not "${shell}"`);
      const script = bashCompletion(commands());
      ctx.out(shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${script}` : script);
    },
  };
}
