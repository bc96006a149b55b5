import type { EventEnvelope } from '@parley/contracts';
import { ValidationError, verifyChain } from '@parley/contracts';

/** An imported stream must be whole and intact: a verified chain from seq 1, all of one run. */
export function assertImportable(runId: string, events: EventEnvelope[]): void {
  if (events.length === 0)
    throw new ValidationError('IMPORT.EMPTY', 'nothing to import: the stream is empty');
  const wrong = events.find((e) => e.runId !== runId);
  if (wrong) {
    throw new ValidationError(
      'IMPORT.WRONG_RUN',
      `event at seq ${wrong.seq} belongs to run ${wrong.runId}, not ${runId}`,
    );
  }
  const verdict = verifyChain(events);
  if (!verdict.ok) {
    throw new ValidationError(
      'IMPORT.CHAIN_BROKEN',
      `the stream does not verify: ${verdict.message}`,
      undefined,
      {
        seq: verdict.seq,
        reason: verdict.reason,
      },
    );
  }
}
