import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, type CanonicalMemo } from './canonical-json';

/** The definition: JSON.stringify of a copy with sorted keys (the implementation of session 1). */
function reference(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      const out = Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(v).sort()) {
        const member = (v as Record<string, unknown>)[key];
        if (member !== undefined) out[key] = sortKeys(member);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

describe('canonicalJson', () => {
  it('sorts keys at every depth, drops undefined members, keeps no whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: 'x' }, u: undefined }),
      '{"a":{"c":"x","d":[3,{"z":1}]},"b":1}',
    );
    assert.equal(canonicalJson([undefined, null, -0, Number.NaN]), '[null,null,0,null]');
    assert.equal(canonicalJson('é\u2028"\\'), JSON.stringify('é\u2028"\\'));
    // array-index keys first, in numeric order (as every hash so far was made); others sorted
    const keyed = { b: 1, '10': 2, '9': 3, a: 4, '4294967295': 5, '01': 6 };
    assert.equal(canonicalJson(keyed), '{"9":3,"10":2,"01":6,"4294967295":5,"a":4,"b":1}');
    assert.equal(canonicalJson(keyed), reference(keyed));
  });

  it('covers a member named __proto__ (as JSON.parse makes it), so it is in the hash', () => {
    const parsed = JSON.parse('{"amount":50,"__proto__":{"amount":900}}') as unknown;
    assert.equal(canonicalJson(parsed), '{"__proto__":{"amount":900},"amount":50}');
    assert.equal(canonicalJson(parsed), reference(parsed));
  });

  it('is, character for character, JSON.stringify of the sorted value (generated values)', () => {
    const key = fc.oneof(
      fc.string(),
      fc.constantFrom('__proto__', 'constructor', 'toString', '', '0', '10', '9'),
    );
    const value = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.constant(undefined),
        fc.boolean(),
        fc.double(),
        fc.integer(),
        fc.string({ unit: 'binary' }),
        fc.array(tie('any'), { maxLength: 5 }),
        fc.dictionary(key, tie('any'), { maxKeys: 6 }),
      ),
    })).any;
    fc.assert(
      fc.property(value, (v) => {
        const parsedBack = v === undefined ? v : (JSON.parse(JSON.stringify(v) ?? 'null') as unknown);
        assert.equal(canonicalJson(v), reference(v));
        assert.equal(canonicalJson(parsedBack), reference(parsedBack));
      }),
      { numRuns: 5000 },
    );
  });

  it('an object marked shared is written once and gives the same text as without the memo', () => {
    const workflow = { name: 'w', agents: [{ tools: ['b', 'a'], name: 'x' }], policies: { z: 1, a: null } };
    const memo: CanonicalMemo = { shared: new WeakSet([workflow]), texts: new WeakMap() };
    const events = [1, 2, 3].map((seq) => ({ seq, data: { workflow, input: `run ${seq}` } }));
    for (const e of events) assert.equal(canonicalJson(e, memo), canonicalJson(e));
    assert.equal(memo.texts.get(workflow), canonicalJson(workflow));
    // objects not marked shared are not remembered
    assert.equal(memo.texts.get(events[0].data), undefined);
  });
});
