import type { Readable } from 'node:stream';
import type { Human } from '../../auth/identity';

export class ForkRunCommand {
  constructor(
    readonly runId: string,
    readonly atSeq: number,
    readonly note: string,
    readonly by: Human,
    /** A human's correction, posted into the fork before it continues. */
    readonly message?: string,
    /** The fork's run id, chosen before the command is routed to that run's owner; generated when absent. */
    readonly newRunId?: string,
  ) {}
}

/** Import an NDJSON export read from `body`. */
export class ImportLogCommand {
  constructor(
    readonly body: Readable,
    /** Who imports (recorded in each imported run as `run.imported`), and why. */
    readonly by: Human,
    readonly note?: string,
  ) {}
}
