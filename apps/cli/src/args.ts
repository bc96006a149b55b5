import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { usageError } from './errors';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; description: string; value?: string };
export type Options = Record<string, OptionSpec>;

/** Flags every command accepts. */
export const GLOBAL_OPTIONS: Options = {
  server: {
    type: 'string',
    value: 'url',
    description: 'the server (env PARLEY_URL, default http://localhost:3000)',
  },
  token: { type: 'string', value: 'token', description: 'your bearer token (env PARLEY_TOKEN)' },
  json: { type: 'boolean', description: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

export type Values = Record<string, string | boolean | undefined>;

/** Strict parse: an unknown flag or a missing flag value is a usage error. */
export function parse(argv: string[], options: Options): { values: Values; positionals: string[] } {
  const config: ParseArgsConfig['options'] = {};
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...options })) {
    config[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: config,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Values, positionals };
  } catch (error) {
    throw usageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/**
 * Where the command word(s) are: the first positionals, skipping global flags and their values
 * (`parley --server URL runs`).
 */
export function splitCommand(argv: string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('-')) {
      rest.push(arg);
      const name = arg.replace(/^--?/, '');
      const spec = GLOBAL_OPTIONS[name];
      if (spec?.type === 'string' && !arg.includes('=') && i + 1 < argv.length) rest.push(argv[++i]);
      continue;
    }
    if (words.length === 0 || (words.length === 1 && words[0] === 'run')) words.push(arg);
    else rest.push(arg);
  }
  return { words, rest };
}

/** A positive integer flag (`--at 3`), or a usage error naming it. */
export function positiveInt(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) {
    throw usageError(`${flag}: expected a positive integer, got "${String(value)}"`);
  }
  return Number(value);
}

export function nonNegativeInt(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw usageError(`${flag}: expected an integer ≥ 0, got "${String(value)}"`);
  return Number(value);
}

/**
 * Check a request body with the contracts' schema before sending it. A failure is a usage error
 * that names the argument (`names` maps body fields to `<positional>` or `--flag`).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  body: unknown,
  names: Record<string, string>,
): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join('.');
  const name = names[field] ?? (field || 'argument');
  const missing = /received undefined$/.test(issue.message);
  throw usageError(`${name}: ${missing ? 'required' : issue.message}`);
}
