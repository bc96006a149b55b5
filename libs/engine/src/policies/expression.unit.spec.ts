import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpressionError, evaluate, parseExpression, test } from './expression';

const refund = {
  amount: 250,
  currency: 'EUR',
  reason: 'The parcel never arrived',
  customer: { tier: 'gold', since: 2019, address: { country: 'NL' } },
  tags: ['late', 'vip'],
  vip: true,
  note: null,
};

function syntaxError(src: string): ExpressionError {
  let caught: unknown;
  try {
    parseExpression(src);
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof ExpressionError,
    `expected an ExpressionError for ${JSON.stringify(src)}, got ${String(caught)}`,
  );
  return caught;
}

describe('policy expressions', () => {
  describe('comparisons', () => {
    const cases: Array<[string, boolean]> = [
      ['amount > 100', true],
      ['amount > 250', false],
      ['amount >= 250', true],
      ['amount < 250', false],
      ['amount <= 250', true],
      ['amount == 250', true],
      ['amount != 250', false],
      ['amount == 250.0', true],
      ['amount > 249.5', true],
      ['currency == "EUR"', true],
      ["currency == 'EUR'", true],
      ['currency != "USD"', true],
      ['currency == "eur"', false],
      ['vip == true', true],
      ['vip == false', false],
      ['note == null', true],
      ['"b" > "a"', true],
    ];
    for (const [src, expected] of cases) {
      it(`${src} → ${expected}`, () => assert.equal(test(src, refund), expected));
    }
  });

  describe('logic and precedence', () => {
    const cases: Array<[string, boolean]> = [
      ['amount > 100 && currency == "EUR"', true],
      ['amount > 100 && currency == "USD"', false],
      ['amount > 500 || currency == "EUR"', true],
      ['amount > 500 || currency == "USD"', false],
      ['!vip', false],
      ['!(amount > 500)', true],
      ['!amount > 500', true], // `!` binds looser than a comparison: !(amount > 500)
      ['!!vip', true],
      // && binds tighter than ||
      ['amount > 500 && vip || currency == "EUR"', true],
      ['amount > 500 && (vip || currency == "EUR")', false],
      ['currency == "USD" || amount > 100 && vip', true],
      ['(currency == "USD" || amount > 100) && !vip', false],
      ['((amount > 100))', true],
      ['vip', true],
      ['amount', true],
      ['note', false],
      ['0', false],
      ['""', false],
    ];
    for (const [src, expected] of cases) {
      it(`${src} → ${expected}`, () => assert.equal(test(src, refund), expected));
    }
  });

  describe('matches and contains', () => {
    it('matches is a case-insensitive regular expression', () => {
      assert.equal(test('reason matches "never ARRIVED"', refund), true);
      assert.equal(test('reason matches "^parcel"', refund), false);
      assert.equal(test('reason matches "lawyer|parcel"', refund), true);
    });
    it('contains is a case-insensitive substring', () => {
      assert.equal(test('reason contains "PARCEL"', refund), true);
      assert.equal(test('reason contains "lawyer"', refund), false);
    });
    it('both are false on anything but strings', () => {
      assert.equal(test('amount matches "250"', refund), false);
      assert.equal(test('amount contains "2"', refund), false);
      assert.equal(test('missing matches ".*"', refund), false);
    });
    it('a regex escape in a string literal stays a regex escape', () => {
      assert.equal(test('reason matches "\\bnever\\b"', refund), true);
      assert.equal(test('reason matches "\\bneve\\b"', refund), false);
      assert.equal(test('text matches "\\d+ items"', { text: 'sent 12 items' }), true);
      assert.equal(
        test('text matches "\\\\d"', { text: 'a\\d' }),
        false,
        'an escaped backslash is one backslash: the regex \\d',
      );
    });
    it('quotes can be escaped inside a string', () => {
      assert.equal(test('text == "say \\"hi\\""', { text: 'say "hi"' }), true);
      assert.equal(test("text == 'it\\'s'", { text: "it's" }), true);
      assert.equal(test('text contains "\\n"', { text: 'a\nb' }), true);
    });
    it('a pattern taken from the arguments that is no regex matches nothing (no crash)', () => {
      assert.equal(test('reason matches pattern', { reason: 'x(', pattern: '(' }), false);
      assert.equal(test('reason matches pattern', { reason: 'abc', pattern: 'B' }), true);
    });
  });

  describe('paths and missing fields', () => {
    it('reads dotted paths', () => {
      assert.equal(test('customer.tier == "gold"', refund), true);
      assert.equal(test('customer.address.country == "NL"', refund), true);
      assert.equal(test('customer.since < 2020', refund), true);
    });
    it('a missing field is undefined: false in every comparison, never a crash', () => {
      for (const src of [
        'missing > 1',
        'missing < 1',
        'missing == 0',
        'missing == null',
        'customer.missing.deeper == "x"',
        'amount.value > 1',
        'missing',
      ]) {
        assert.equal(test(src, refund), false, src);
      }
      assert.equal(test('missing != 1', refund), true);
      assert.equal(test('!missing', refund), true);
      assert.equal(test('amount > 1', undefined), false);
      assert.equal(test('amount > 1', null), false);
      assert.equal(test('amount > 1', 'a string'), false);
    });
    it('objects and arrays compare as their JSON', () => {
      assert.equal(evaluate(parseExpression('tags'), refund), '["late","vip"]');
      assert.equal(test('tags contains "vip"', refund), true);
    });
  });

  describe('type mismatches are false, not coerced', () => {
    const cases: Array<[string, boolean]> = [
      ['amount == "250"', false],
      ['amount != "250"', true],
      ['amount > "100"', false],
      ['amount < "300"', false],
      ['currency > 1', false],
      ['vip == 1', false],
      ['note > 0', false],
      ['note < 1', false],
    ];
    for (const [src, expected] of cases) {
      it(`${src} → ${expected}`, () => assert.equal(test(src, refund), expected));
    }
  });

  describe('no prototype access', () => {
    it('inherited members are not fields', () => {
      for (const src of [
        'constructor',
        'constructor.name == "Object"',
        '__proto__',
        'toString',
        'hasOwnProperty',
        'reason.length > 0',
        'customer.constructor.name == "Object"',
        '__proto__.polluted == true',
      ]) {
        assert.equal(test(src, refund), false, src);
      }
      assert.equal(evaluate(parseExpression('constructor'), refund), undefined);
      assert.equal(evaluate(parseExpression('__proto__'), refund), undefined);
    });
    it('an own field named like a prototype member is plain data', () => {
      const args = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}') as unknown;
      assert.equal(test('constructor == "x"', args), true);
      assert.equal(test('__proto__.polluted == true', args), true);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('syntax errors', () => {
    const cases: Array<[string, number]> = [
      ['amount > 100 # 2', 13],
      ['amount >', 8],
      ['amount > > 1', 9],
      ['(amount > 1', 11],
      ['amount > 1)', 10],
      ['amount 100', 7],
      ['', 0],
      ['   ', 3],
      ['amount = 1', 7],
      ['amount > -1', 9],
      ['"unterminated', 0],
      ['a && || b', 5],
      ['amount > 1 > 2', 11],
      ['matches "x"', 0],
      ['reason matches "("', 15],
      ['f(1)', 1],
    ];
    for (const [src, position] of cases) {
      it(`${JSON.stringify(src)} fails at position ${position}`, () => {
        const error = syntaxError(src);
        assert.equal(error.position, position);
        assert.match(error.message, new RegExp(`position ${position}\\b`));
        assert.equal(error.name, 'ExpressionError');
      });
    }
    it('test() throws the same ExpressionError', () => {
      assert.throws(() => test('amount >', refund), ExpressionError);
    });
  });

  it('parses to a plain tree', () => {
    assert.deepStrictEqual(parseExpression('!a.b >= 2 || c matches "x"'), {
      t: 'bin',
      op: '||',
      l: { t: 'not', e: { t: 'bin', op: '>=', l: { t: 'id', path: ['a', 'b'] }, r: { t: 'lit', v: 2 } } },
      r: { t: 'bin', op: 'matches', l: { t: 'id', path: ['c'] }, r: { t: 'lit', v: 'x' } },
    });
  });

  it('every expression of the example workflows parses', () => {
    for (const src of [
      'amount > 100',
      'amount > 500',
      'amount > 500 || reason matches "lawyer|legal"',
      'currency == "EUR" && amount >= 50',
      'customer.tier == "gold"',
    ]) {
      assert.doesNotThrow(() => parseExpression(src), src);
    }
  });
});
