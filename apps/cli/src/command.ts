import type { Options, Values } from './args';
import type { ParleyClient } from '@parley/client';

/** What a command gets: its flags, its positionals, the Parley client, and output helpers. */
export interface Context {
  values: Values;
  positionals: string[];
  json: boolean;
  /** The server's base URL, checked (no trailing slash). */
  server: string;
  token: string | undefined;
  /** The typed client (`@parley/client`) for --server and --token; checks --server first. */
  client(): ParleyClient;
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  /** `runs`, `run start` ... */
  name: string;
  /** Positional arguments in order, with their help text: `<name>` required, `<name...>` the rest of the line. */
  arguments: Array<[term: string, description: string]>;
  summary: string;
  /** More lines for `--help`. */
  details?: string;
  options: Options;
  /** Resolves to the exit code (0 when nothing is returned). */
  run(ctx: Context): Promise<number | void>;
}
