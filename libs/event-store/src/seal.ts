import { randomUUID } from 'node:crypto';
import type { EventEnvelope, NewEvent } from '@parley/contracts';
import { GENESIS_HASH, currentVersion, isEventType, sealEvent, validateNewEvent } from '@parley/contracts';
import type { StreamHead } from './event-store.port';

export interface SealContext {
  now: () => Date;
  newId: () => string;
}

export const defaultSealContext: SealContext = { now: () => new Date(), newId: randomUUID };

/**
 * Validate new events and chain them after `head`: assign seq, prevHash and hash.
 * Shared by both adapters so that they seal identically.
 */
export function sealBatch(
  runId: string,
  head: StreamHead | undefined,
  events: NewEvent[],
  ctx: SealContext = defaultSealContext,
): EventEnvelope[] {
  return envelopes(runId, head, events, ctx, sealEvent);
}

/**
 * What `sealBatch` will make of `events` after `head`, without the hashes (`hash` and `prevHash`
 * are empty): the engine folds a step's batch ahead of appending it, and the store seals it.
 * Validation, seqs, ids, times and correlation are exactly the store's.
 */
export function previewBatch(
  runId: string,
  headSeq: number,
  events: NewEvent[],
  ctx: SealContext = defaultSealContext,
): EventEnvelope[] {
  return envelopes(
    runId,
    { seq: headSeq, hash: '' },
    events,
    ctx,
    (e) => ({ ...e, prevHash: '', hash: '' }),
    true,
  );
}

/**
 * The data `previewBatch` validated, by event object: when the engine appends the very events it
 * previewed (same object, same type, actor and data), sealing takes the validated data from here
 * instead of parsing it a second time.
 */
const previewed = new WeakMap<
  NewEvent,
  { type: string; actor: NewEvent['actor']; input: unknown; data: unknown }
>();

function validated(event: NewEvent, remember: boolean): unknown {
  const memo = previewed.get(event);
  if (memo && memo.type === event.type && memo.actor === event.actor && memo.input === event.data)
    return memo.data;
  const data = validateNewEvent(event.type, event.data, event.actor);
  if (remember) previewed.set(event, { type: event.type, actor: event.actor, input: event.data, data });
  return data;
}

function envelopes(
  runId: string,
  head: StreamHead | undefined,
  events: NewEvent[],
  ctx: SealContext,
  seal: (event: Omit<EventEnvelope, 'hash'>) => EventEnvelope,
  preview = false,
): EventEnvelope[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const at = ctx.now().toISOString();
  let correlation: string | undefined;
  return events.map((event) => {
    const data = validated(event, preview);
    seq += 1;
    const eventId = event.eventId ?? ctx.newId();
    correlation ??= event.correlationId ?? runId;
    const sealed = seal({
      eventId,
      runId,
      seq,
      type: event.type,
      schemaVersion: isEventType(event.type) ? currentVersion(event.type) : 1,
      at: event.at ?? at,
      actor: event.actor,
      data,
      correlationId: event.correlationId ?? correlation,
      causationId: event.causationId ?? null,
      prevHash,
    });
    prevHash = sealed.hash;
    return sealed;
  });
}
