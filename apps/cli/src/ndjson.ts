import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CliError, EXIT } from './errors';

/**
 * `replay` and `verify` take a runId or a file: an existing file is a file; something that looks
 * like a path (a slash, an .ndjson/.jsonl/.json ending) but does not exist is "not found".
 */
export function fileArgument(arg: string): string | undefined {
  if (existsSync(arg) && statSync(arg).isFile()) return arg;
  if (/[\\/]/.test(arg) || /\.(ndjson|jsonl|json)$/i.test(arg))
    throw new CliError(EXIT.notFound, `no such file: ${arg}`);
  return undefined;
}

/** The lines of a file, streamed (constant memory however long the log). */
export function lines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
}
