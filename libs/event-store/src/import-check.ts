import type { EventEnvelope } from '@parley/contracts';
import { ChainVerifier, ValidationError, storedEventProblem } from '@parley/contracts';

/**
 * An imported stream must be whole and intact: a verified chain from seq 1, all of one run, every
 * event one an append here would have accepted (type, version, actor, data). Fed one event at a time
 * (constant memory); `finish` throws unless the whole stream held.
 */
export class ImportChecker {
  private readonly chain = new ChainVerifier();
  private count = 0;

  constructor(private readonly runId: string) {}

  push(e: EventEnvelope): void {
    if (e.runId !== this.runId) {
      throw new ValidationError(
        'IMPORT.WRONG_RUN',
        `event at seq ${e.seq} belongs to run ${e.runId}, not ${this.runId}`,
      );
    }
    const problem = storedEventProblem(e);
    if (problem)
      throw new ValidationError('IMPORT.INVALID_EVENT', `event at seq ${e.seq}: ${problem}`, undefined, {
        seq: e.seq,
      });
    this.chain.push(e);
    this.count += 1;
  }

  finish(): void {
    if (this.count === 0) throw new ValidationError('IMPORT.EMPTY', 'nothing to import: the stream is empty');
    const verdict = this.chain.result();
    if (!verdict.ok) {
      throw new ValidationError(
        'IMPORT.CHAIN_BROKEN',
        `the stream does not verify: ${verdict.message}`,
        undefined,
        { seq: verdict.seq, reason: verdict.reason },
      );
    }
  }
}

export function assertImportable(runId: string, events: EventEnvelope[]): void {
  if (events.length === 0)
    throw new ValidationError('IMPORT.EMPTY', 'nothing to import: the stream is empty');
  const checker = new ImportChecker(runId);
  for (const e of events) checker.push(e);
  checker.finish();
}
