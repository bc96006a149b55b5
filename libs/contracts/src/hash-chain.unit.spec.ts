import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from './canonical-json';
import type { EventEnvelope } from './envelope';
import { GENESIS_HASH, hashEvent, sealEvent, verifyChain } from './hash-chain';

function chain(n: number): EventEnvelope[] {
  const out: EventEnvelope[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = sealEvent({
      eventId: `e${seq}`,
      runId: 'r1',
      seq,
      type: 'human-message.posted',
      schemaVersion: 1,
      at: '2026-01-01T00:00:00.000Z',
      actor: { kind: 'human', id: 'alice' },
      data: { by: { id: 'alice', role: 'participant' }, text: `m${seq}` },
      correlationId: 'r1',
      causationId: null,
      prevHash,
    });
    out.push(e);
    prevHash = e.hash;
  }
  return out;
}

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('keeps a "__proto__" member (an own property from JSON.parse), so the hash covers it', () => {
    const args = JSON.parse('{"amount":50,"__proto__":{"amount":900}}');
    assert.equal(canonicalJson(args), '{"__proto__":{"amount":900},"amount":50}');
    assert.notEqual(canonicalJson(args), canonicalJson({ amount: 50 }));
    assert.equal(canonicalJson({ a: [JSON.parse('{"__proto__":1}')] }), '{"a":[{"__proto__":1}]}');
  });
});

describe('hash chain', () => {
  it('given an intact stream, when verified, then reports the count and head', () => {
    const events = chain(5);
    assert.deepEqual(verifyChain(events), { ok: true, events: 5, head: events[4].hash });
    assert.deepEqual(verifyChain([]), { ok: true, events: 0, head: GENESIS_HASH });
  });

  it('hashes the event without its hash member, independent of key order', () => {
    const [e] = chain(1);
    const { hash, ...rest } = e;
    const reordered = JSON.parse(
      JSON.stringify({ hash, ...rest, data: { text: 'm1', by: (e.data as { by: unknown }).by } }),
    );
    assert.equal(hashEvent(reordered), e.hash);
  });

  it('reports a "__proto__" member added to or removed from an event as an edit', () => {
    const events = chain(2);
    const body = JSON.stringify(events[1]);
    const added = JSON.parse(body.replace('"data":{', '"data":{"__proto__":{"text":"x"},'));
    assert.deepEqual(pick(verifyChain([events[0], added])), { seq: 2, reason: 'edited', events: 1 });
  });

  it('reports an edited event at its seq', () => {
    const events = chain(4);
    events[2] = { ...events[2], at: '2026-01-01T00:00:01.000Z' };
    assert.deepEqual(pick(verifyChain(events)), { seq: 3, reason: 'edited', events: 2 });
  });

  it('reports an event re-hashed after an edit as unlinked from its successor', () => {
    const events = chain(4);
    events[1] = sealEvent({ ...events[1], data: { by: { id: 'mallory', role: 'admin' }, text: 'm2' } });
    assert.deepEqual(pick(verifyChain(events)), { seq: 3, reason: 'unlinked', events: 2 });
  });

  it('reports a deleted event as missing', () => {
    const events = chain(4).filter((e) => e.seq !== 2);
    assert.deepEqual(pick(verifyChain(events)), { seq: 2, reason: 'missing', events: 1 });
    assert.deepEqual(pick(verifyChain(chain(3).slice(1))), { seq: 1, reason: 'missing', events: 0 });
  });

  it('reports two swapped events as reordered', () => {
    const [a, b, c, d] = chain(4);
    assert.deepEqual(pick(verifyChain([a, c, b, d])), { seq: 2, reason: 'reordered', events: 1 });
  });
});

function pick(v: ReturnType<typeof verifyChain>): Record<string, unknown> {
  return v.ok ? { ok: true } : { seq: v.seq, reason: v.reason, events: v.events };
}
