import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ImportQuery } from '@parley/contracts';
import { validate } from '../args';
import type { Command } from '../command';
import { CliError, EXIT } from '../errors';
import { fileArgument } from '../ndjson';

const importRuns: Command = {
  name: 'import',
  arguments: [['<file.ndjson>', 'an export (parley export), signed by a key this server trusts']],
  summary: 'bring exported runs into this server (admin); the file is streamed, checked like appends',
  details: [
    'Every event is checked as an append is (known types, actors, schemas, the chain) and the export',
    "must be signed by a key in the server's PARLEY_TRUSTED_KEYS. A refused import changes nothing and",
    'names the first bad line (exit 2). Each imported run records who imported it and --note.',
  ].join('\n'),
  options: { note: { type: 'string', short: 'n', value: 'text', description: 'why (recorded in each run)' } },
  async run(ctx) {
    const arg = ctx.positionals[0];
    const file = fileArgument(arg) ?? arg;
    const { note } = validate(ImportQuery, { note: ctx.values.note }, { note: '--note' });
    const client = ctx.client();
    let stream: ReadableStream<Uint8Array>;
    try {
      const input = createReadStream(file);
      await new Promise<void>((resolve, reject) => input.once('open', () => resolve()).once('error', reject));
      stream = Readable.toWeb(input) as ReadableStream<Uint8Array>;
    } catch (error) {
      throw new CliError(EXIT.notFound, `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
    }
    const answer = await client.importRuns(stream, note);
    if (ctx.json) return ctx.out(JSON.stringify(answer));
    for (const run of answer.imported) ctx.out(`imported ${run.runId}: ${run.events} events`);
  },
};

export const IMPORT_COMMANDS: Command[] = [importRuns];
