import type { EventEnvelope } from '@parley/contracts';
import { ValidationError, storedEventProblem, verifyChain } from '@parley/contracts';

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
  // every event must be one an append here would have accepted (type, version, actor, data)
  for (const e of events) {
    const problem = storedEventProblem(e);
    if (problem)
      throw new ValidationError('IMPORT.INVALID_EVENT', `event at seq ${e.seq}: ${problem}`, undefined, {
        seq: e.seq,
      });
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
