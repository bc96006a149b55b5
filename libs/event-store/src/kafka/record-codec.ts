import type { KafkaMessage, Message } from 'kafkajs';
import type { EventEnvelope } from '@parley/contracts';
import { EventEnvelopeSchema, hashEvent } from '@parley/contracts';

/**
 * A run-events record: key = runId, value = the event's JSON exactly as sealed, headers naming it
 * (`parley-type`, `parley-seq`, `parley-event-id`, `parley-hash`) so that a consumer can tell a record
 * it already holds without parsing its value.
 */

/** A record's identity in Parley's terms, from its key and headers: `runId seq hash`. */
export function recordId(message: KafkaMessage): string {
  return `${message.key?.toString('utf8')} ${message.headers?.['parley-seq']?.toString()} ${message.headers?.['parley-hash']?.toString()}`;
}

/** The same identity for an event about to be sent (see `recordId`). */
export function eventRecordId(runId: string, event: EventEnvelope): string {
  return `${runId} ${event.seq} ${event.hash}`;
}

/** The `parley-hash` header. */
export function recordHash(message: KafkaMessage): string | undefined {
  return message.headers?.['parley-hash']?.toString();
}

/** Run, seq and hash from the key and headers alone; undefined when a header is missing or bad. */
export function recordHeaders(
  message: KafkaMessage,
): { runId: string; seq: number; hash: string } | undefined {
  const hash = recordHash(message);
  const seq = Number(message.headers?.['parley-seq']?.toString());
  const runId = message.key?.toString('utf8');
  if (!hash || !runId || !Number.isInteger(seq)) return undefined;
  return { runId, seq, hash };
}

/** The record of one event: `value` is the event's JSON (computed once by the caller). */
export function encodeRecord(
  runId: string,
  event: EventEnvelope,
  value: string,
  partition: number | undefined,
): Message & { partition: number | undefined } {
  return {
    key: runId,
    partition,
    value,
    headers: {
      'parley-type': event.type,
      'parley-seq': String(event.seq),
      'parley-event-id': event.eventId,
      'parley-hash': event.hash,
    },
  };
}

/**
 * The event a record carries, checked: a JSON object that is a valid `EventEnvelopeSchema` envelope,
 * with a runId equal to the key and a hash that matches its content. Throws an Error saying what is
 * wrong. Since imports are checked like appends (`assertImportable` → `storedEventProblem`), nothing
 * this version writes to the topic fails the schema; a record that does (written by hand, or imported
 * by a version before that check) is refused by every instance alike, so they keep one chain.
 */
export function decodeRecord(message: KafkaMessage): EventEnvelope {
  if (!message.value) throw new Error('empty value');
  const event = JSON.parse(message.value.toString('utf8')) as EventEnvelope;
  if (typeof event !== 'object' || event === null) throw new Error('not a JSON object');
  if (typeof event.runId !== 'string' || !event.runId) throw new Error('no runId');
  if (!Number.isInteger(event.seq) || event.seq < 1) throw new Error(`bad seq ${String(event.seq)}`);
  if (
    typeof event.hash !== 'string' ||
    typeof event.prevHash !== 'string' ||
    typeof event.type !== 'string'
  ) {
    throw new Error('missing hash, prevHash or type');
  }
  const key = message.key?.toString('utf8');
  if (key !== event.runId) throw new Error(`key ${key} differs from runId ${event.runId}`);
  const envelope = EventEnvelopeSchema.safeParse(event);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    throw new Error(
      `run ${event.runId} seq ${event.seq}: ${issue.path.join('.') || 'envelope'}: ${issue.message}`,
    );
  }
  if (hashEvent(event) !== event.hash)
    throw new Error(`run ${event.runId} seq ${event.seq} does not match its hash`);
  return event;
}
