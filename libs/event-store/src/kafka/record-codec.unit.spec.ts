import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { hashEvent, type EventEnvelope } from '@parley/contracts';
import { sealBatch } from '../seal';
import { message } from '../event-store.contract';
import { decodeRecord, encodeRecord, recordHeaders, recordId } from './record-codec';

/** A record as the consumer receives it, from what the producer sends. */
function received(sent: ReturnType<typeof encodeRecord>, offset = '0'): KafkaMessage {
  const headers = Object.fromEntries(
    Object.entries(sent.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]),
  );
  return {
    key: Buffer.from(String(sent.key)),
    value: sent.value === null ? null : Buffer.from(String(sent.value)),
    headers,
    offset,
    timestamp: '0',
    attributes: 0,
  } as KafkaMessage;
}

/** The event with its hash recomputed over what it now holds (an attacker with Parley's library). */
function resealed(e: EventEnvelope): EventEnvelope {
  return { ...e, hash: hashEvent(e) };
}

describe('run-events record codec', () => {
  const [event] = sealBatch('run-1', undefined, [message('hello')]);

  it('decodes what it encodes, and names the record by run, seq and hash from its headers', () => {
    const record = received(encodeRecord('run-1', event, JSON.stringify(event), 3));
    assert.deepStrictEqual(decodeRecord(record), event);
    assert.deepStrictEqual(recordHeaders(record), { runId: 'run-1', seq: 1, hash: event.hash });
    assert.equal(recordId(record), `run-1 1 ${event.hash}`);
  });

  it('refuses a record that is not the event its key and hash say, saying why', () => {
    const cases: Array<[string, KafkaMessage, RegExp]> = [
      ['empty', { ...received(encodeRecord('run-1', event, '', 0)), value: null }, /empty value/],
      ['not an object', received(encodeRecord('run-1', event, 'null', 0)), /not a JSON object/],
      ['another key', received(encodeRecord('run-2', event, JSON.stringify(event), 0)), /differs from runId/],
      [
        'edited',
        received(encodeRecord('run-1', event, JSON.stringify({ ...event, type: 'run.completed' }), 0)),
        /does not match its hash/,
      ],
      [
        'not an envelope (an actor of no known kind), its hash recomputed to match',
        received(
          encodeRecord(
            'run-1',
            event,
            JSON.stringify(
              resealed({ ...event, actor: { kind: 'robot', id: 'x' } } as unknown as EventEnvelope),
            ),
            0,
          ),
        ),
        /actor\.kind/,
      ],
      [
        'bad seq',
        received(encodeRecord('run-1', event, JSON.stringify({ ...event, seq: 0 }), 0)),
        /bad seq 0/,
      ],
    ];
    for (const [what, record, reason] of cases) assert.throws(() => decodeRecord(record), reason, what);
  });

  it('has no identity from headers when one is missing', () => {
    const record = received(encodeRecord('run-1', event, JSON.stringify(event), 0));
    delete record.headers!['parley-seq'];
    assert.equal(recordHeaders(record), undefined);
  });
});
