import type { Readable } from 'node:stream';
import { Command } from '@nestjs/cqrs';
import type { RunVerdict } from '@parley/contracts';
import type { Human } from '../../auth/identity';
import { commandOf } from '../../commands/command-of';

/**
 * A new run from the first `input.atSeq` events of `input.runId`, with an optional correction
 * (`input.message`); `input.newRunId` is chosen before the command is routed to that run's owner.
 */
export class ForkRunCommand extends commandOf('run.fork') {}

/** Import an NDJSON export read from `body` (local: the body is a stream, it does not travel). */
export class ImportLogCommand extends Command<{ imported: RunVerdict[] }> {
  constructor(
    readonly body: Readable,
    /** Who imports (recorded in each imported run as `run.imported`), and why. */
    readonly by: Human,
    readonly note?: string,
  ) {
    super();
  }
}
