import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { ConflictError, canonicalJson, validateNewEvent } from '@parley/contracts';

/**
 * Event-id idempotency, shared by both adapters. An event id names one fact of one run; the run
 * stores it once. For an append whose events carry ids:
 *
 * - none of the ids is stored in the run: a normal append (checked against `expectedSeq`);
 * - every id is stored, as consecutive events in the batch's order, each with the same type, actor
 *   and data: a repeat (a retry after an unknown outcome, a redelivered command). It returns the
 *   stored envelopes and appends nothing, whatever `expectedSeq` says (the first attempt moved the
 *   head);
 * - anything else (an id stored with a different type, actor or data; a batch partly stored; stored
 *   out of order; an id twice in one batch): `EVENT_STORE.EVENT_ID_CONFLICT`, nothing appended.
 *
 * Events without an id get a fresh one when sealed, so they are never repeats.
 */
export type IdempotencyVerdict = { kind: 'new' } | { kind: 'repeat'; stored: EventEnvelope[] };

export class EventIdConflictError extends ConflictError {
  constructor(runId: string, eventId: string, reason: string) {
    super('EVENT_STORE.EVENT_ID_CONFLICT', `run ${runId}: event ${eventId} ${reason}; nothing was written.`, {
      runId,
      eventId,
    });
  }
}

/** Events whose id their producer has just drawn at random (see `markGeneratedEventId`). */
const generated = new WeakSet<NewEvent>();

/**
 * Say that `event`'s id was drawn at random (a v4 UUID) by its producer just now, e.g. the engine
 * stamping the facts it decides: it cannot be stored already, so `checkEventIds` does not look it up
 * (one indexed query per append saved on every step). Ids that come from outside (a command's
 * idempotency key, a client's retry) are never marked, and are looked up as always.
 */
export function markGeneratedEventId(event: NewEvent): void {
  generated.add(event);
}

/** `lookup` returns the stored events of `runId` among `ids` (any order). */
export function checkEventIds(
  runId: string,
  events: NewEvent[],
  lookup: (ids: string[]) => EventEnvelope[],
): IdempotencyVerdict {
  const ids = events.map((e) => e.eventId).filter((id): id is string => id !== undefined);
  if (ids.length === 0) return { kind: 'new' };
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new EventIdConflictError(runId, id, 'appears twice in one append');
    seen.add(id);
  }
  const unmarked = events
    .filter((e) => e.eventId !== undefined && !generated.has(e))
    .map((e) => e.eventId as string);
  if (unmarked.length === 0) return { kind: 'new' };
  const stored = new Map(lookup(unmarked).map((e) => [e.eventId, e]));
  if (stored.size === 0) return { kind: 'new' };
  const repeat: EventEnvelope[] = [];
  for (const event of events) {
    const previous = event.eventId === undefined ? undefined : stored.get(event.eventId);
    if (!previous) {
      const some = [...stored.keys()][0];
      throw new EventIdConflictError(
        runId,
        some,
        'is already stored but other events of the same append are not (a batch is stored whole or not at all)',
      );
    }
    const data = validateNewEvent(event.type, event.data, event.actor);
    if (
      previous.type !== event.type ||
      canonicalJson(previous.actor) !== canonicalJson(event.actor) ||
      canonicalJson(previous.data) !== canonicalJson(data)
    ) {
      throw new EventIdConflictError(
        runId,
        previous.eventId,
        `is already stored at seq ${previous.seq} with a different type, actor or data`,
      );
    }
    const before = repeat[repeat.length - 1];
    if (before && previous.seq !== before.seq + 1) {
      throw new EventIdConflictError(
        runId,
        previous.eventId,
        `is stored at seq ${previous.seq}, not right after ${before.eventId} as in this append`,
      );
    }
    repeat.push(previous);
  }
  return { kind: 'repeat', stored: repeat };
}
