import { parse as parseQueryString } from 'node:querystring';
import fc from 'fast-check';
import type { z } from 'zod';

/**
 * Generators shared by the fuzz tests (normal suite and chaos suite). Valid-shaped inputs are
 * derived from the contracts' zod schemas, then mutated into invalid ones, so a schema change is
 * fuzzed without touching this file.
 */

// ---------------------------------------------------------------------------------------------
// Valid values of a schema (the subset of zod the API contracts use)
// ---------------------------------------------------------------------------------------------

type AnySchema = z.ZodType & { _zod: { def: Record<string, any>; bag: Record<string, any> } };

/** Text of every kind: ASCII, any code point, graphemes, control characters, lone surrogates. */
export function anyText(minLength = 0, maxLength = 40): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ minLength, maxLength }),
    fc.string({ unit: 'binary', minLength, maxLength }),
    fc.string({ unit: 'grapheme', minLength, maxLength }),
    fc
      .array(
        fc.constantFrom(
          '\u0000',
          '\u0007',
          '\u001b',
          '\ud800',
          '\udfff',
          '\u202e',
          '\u200b',
          '\ufeff',
          '\n',
          '"',
          '\\',
          '😀',
          'é',
        ),
        {
          minLength: Math.max(minLength, 1),
          maxLength: Math.max(minLength, Math.min(maxLength, 20)),
        },
      )
      .map((parts) => parts.join('')),
  );
}

/** An arbitrary of values `schema` accepts. */
export function validOf(schema: z.ZodType): fc.Arbitrary<unknown> {
  const s = schema as AnySchema;
  const def = s._zod.def;
  switch (def.type) {
    case 'string': {
      if (def.format === 'datetime')
        return fc
          .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString());
      const min = (s as unknown as z.ZodString).minLength ?? 0;
      const max = Math.min((s as unknown as z.ZodString).maxLength ?? 60, 60);
      return anyText(min, Math.max(min, max)).filter((x) => schema.safeParse(x).success);
    }
    case 'number': {
      const n = s as unknown as z.ZodNumber;
      const min = Math.max(n.minValue ?? -1e6, -1e6);
      const max = Math.min(n.maxValue ?? 1e6, 1e6);
      const value = n.isInt ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true });
      return def.coerce ? value.map(String) : value;
    }
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...(s as unknown as z.ZodEnum).options);
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'optional':
      return validOf(def.innerType as z.ZodType);
    case 'union':
      return fc.oneof(...(def.options as z.ZodType[]).map(validOf));
    case 'pipe': // a transform: what its input takes
      return validOf(def.in as z.ZodType);
    case 'default':
      return validOf(def.innerType as z.ZodType);
    case 'unknown':
    case 'any':
      return fc.jsonValue({ maxDepth: 3 }).filter((x) => schema.safeParse(x).success);
    case 'array': {
      const checks = (def.checks ?? []) as Array<{
        _zod: { def: { check: string; minimum?: number; maximum?: number } };
      }>;
      const minLength = checks.find((c) => c._zod.def.check === 'min_length')?._zod.def.minimum ?? 0;
      const maxLength = Math.min(
        checks.find((c) => c._zod.def.check === 'max_length')?._zod.def.maximum ?? 5,
        5,
      );
      return fc.array(validOf(def.element as z.ZodType), {
        minLength,
        maxLength: Math.max(minLength, maxLength),
      });
    }
    case 'object': {
      const shape = def.shape as Record<string, AnySchema>;
      const required = Object.keys(shape).filter((k) => !isOptional(shape[k]));
      const fields = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, validOf(v)]));
      return fc.record(fields, { requiredKeys: required });
    }
    default:
      throw new Error(`validOf: no generator for zod type ${def.type}`);
  }
}

function isOptional(schema: AnySchema): boolean {
  return schema._zod.def.type === 'optional' || schema._zod.def.type === 'default';
}

export function shapeOf(schema: z.ZodType): Record<string, z.ZodType> {
  return ((schema as AnySchema)._zod.def.shape ?? {}) as Record<string, z.ZodType>;
}

export function requiredKeys(schema: z.ZodType): string[] {
  const shape = shapeOf(schema) as Record<string, AnySchema>;
  return Object.keys(shape).filter((k) => !isOptional(shape[k]));
}

// ---------------------------------------------------------------------------------------------
// Bad values
// ---------------------------------------------------------------------------------------------

/** An object with an own, enumerable member named `key` (`{__proto__: ...}` would set the prototype). */
export function withOwn(
  target: Record<string, unknown>,
  key: string,
  value: unknown,
): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  return target;
}

/** Nested `depth` levels deep, as arrays or as objects. */
export function deep(depth: number, kind: 'array' | 'object'): unknown {
  let v: unknown = kind === 'array' ? [] : {};
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

/** Values of the wrong type or out of any sensible range. */
export function badValue(hugeMax = 90_000, deepMax = 1_500): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      -0,
      1.5,
      2 ** 53,
      -(2 ** 53) - 7,
      1e308,
      -1e308,
      NaN,
      Infinity,
      -Infinity,
    ),
    fc.constantFrom<unknown>(
      '',
      ' ',
      '\u0000',
      '\ud800',
      'null',
      'undefined',
      '1',
      '-1',
      'NaN',
      'true',
      '[]',
      '{}',
    ),
    anyText(0, 30),
    fc.integer({ min: Math.min(20_000, hugeMax), max: hugeMax }).map((n) => 'x'.repeat(n)), // huge, under the size limits
    // deeper ones are sent as text (deepJsonText): JSON.stringify itself overflows past a few thousand
    fc
      .integer({ min: Math.min(65, deepMax), max: deepMax })
      .chain((d) => fc.constantFrom(deep(d, 'array'), deep(d, 'object'))),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    fc.constantFrom(...PROTO_KEYS).map((k) => withOwn({}, k, { polluted: true })),
  );
}

/**
 * A schema-invalid variant of a valid object: a required field dropped, a field of the wrong
 * type, an unknown key (prototype-pollution names among them), or not an object at all. The
 * result is refused by `schema` after a JSON round trip (what the server sees).
 */
export function invalidOf(
  schema: z.ZodType,
  valid: fc.Arbitrary<unknown> = validOf(schema),
  hugeMax = 90_000,
): fc.Arbitrary<unknown> {
  const keys = Object.keys(shapeOf(schema));
  const required = requiredKeys(schema);
  const mutations: Array<fc.Arbitrary<unknown>> = [
    fc
      .tuple(
        valid,
        fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ minLength: 1, maxLength: 12 })),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([v, key, extra]) => withOwn({ ...(v as object) }, key, extra)),
    badValue(hugeMax).filter((b) => b === null || typeof b !== 'object' || Array.isArray(b)),
  ];
  if (keys.length > 0)
    mutations.push(
      fc
        .tuple(valid, fc.constantFrom(...keys), badValue(hugeMax))
        .map(([v, key, bad]) => withOwn({ ...(v as object) }, key, bad)),
    );
  if (required.length > 0)
    mutations.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([v, key]) => {
        const copy = { ...(v as Record<string, unknown>) };
        delete copy[key];
        return copy;
      }),
    );
  return fc.oneof(...mutations).filter((candidate) => !schema.safeParse(jsonRoundTrip(candidate)).success);
}

/** What a JSON transport makes of a value (NaN → null, undefined members dropped). */
export function jsonRoundTrip(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Ids, query strings, raw bodies, headers
// ---------------------------------------------------------------------------------------------

/** Ids that name nothing: random text, path tricks, prototype names, very long ones. */
export function unknownId(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.uuid(),
    anyText(1, 60).filter((s) => s.trim() !== '' && s !== '.' && s !== '..'),
    fc.constantFrom(...PROTO_KEYS, 'null', 'undefined', '0', '-1', 'NaN', 'run:1', 'a b', 'x'.repeat(200)),
    fc.integer({ min: 201, max: 3_000 }).map((n) => 'r'.repeat(n)),
  );
}

/** A query string: the schema's keys and unknown ones, repeated keys, bracket keys, bad values. */
export function queryStringOf(schema: z.ZodType): fc.Arbitrary<string> {
  const keys = Object.keys(shapeOf(schema));
  const key = fc.oneof(
    fc.constantFrom(...keys),
    fc.constantFrom(...keys).map((k) => `${k}[]`),
    fc.constantFrom(...keys).map((k) => `${k}[x]`),
    fc.constantFrom(...PROTO_KEYS).map((k) => `${k}[polluted]`),
    fc.constantFrom(...PROTO_KEYS),
    fc.string({ minLength: 1, maxLength: 8 }),
  );
  const value = fc.oneof(
    fc.constantFrom(
      '',
      'abc',
      '-1',
      '0',
      '1.5',
      'NaN',
      'Infinity',
      '1e400',
      'true',
      'null',
      '%00',
      '2026-13-45',
    ),
    anyText(0, 20),
  );
  return fc
    .array(fc.tuple(key, value), { minLength: 1, maxLength: 4 })
    .map((pairs) =>
      pairs
        .map(([k, v]) => `${encodeLoose(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeLoose(v)}`)
        .join('&'),
    )
    .filter((qs) => !schema.safeParse({ ...parseQueryString(qs) }).success);
}

/** Percent-encoded; a lone surrogate (no UTF-8 for it) goes as the bytes of one, which the server must refuse. */
export function encodeLoose(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text
      .split(/([\ud800-\udfff])/)
      .map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
      .join('');
  }
}

/** A body that is not JSON, or JSON that body-parser refuses (strict: objects and arrays only). */
export function malformedJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.tuple(valid, fc.nat()).map(([v, n]) => {
        const text = JSON.stringify(v);
        return text.slice(0, text.length > 1 ? n % (text.length - 1) : 0) || '{';
      }),
      fc.constantFrom(
        '{',
        '}',
        '{"a":}',
        "{'a':1}",
        '{"a":1,}',
        '{a:1}',
        'NaN',
        '{"a":NaN}',
        '{"a":1e999999}',
        '/* */{}',
        '\ufeff{}',
        '"string"',
        '42',
        'true',
        'null',
        '{"a":"\\ud800"',
        '{"a":"\\x"}',
        '\u0000',
      ),
      fc.integer({ min: 1_000, max: 50_000 }).map((n) => '['.repeat(n)),
      fc.integer({ min: 1_000, max: 19_000 }).map((n) => '{"a":'.repeat(n)), // under 100 KB
      fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
    )
    .filter((text) => !isJsonBody(text));
}

/** `{"<field>": [[[...]]]}` nested `depth` levels, as text (any depth: no recursion here). */
export function deepJsonText(field: string, depth: number, kind: 'array' | 'object'): string {
  const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
  const inner = kind === 'array' ? '' : '1';
  return `{${JSON.stringify(field)}:${open.repeat(depth)}${inner}${close.repeat(depth)}}`;
}

/** What body-parser (strict) accepts: JSON whose root is an object or an array. */
export function isJsonBody(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text.replace(/^\ufeff/, '')); // body-parser drops a BOM
    return value !== null && typeof value === 'object';
  } catch {
    return false;
  }
}

export const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'application/x-ndjson',
  'json',
  'application/json-patch+json',
  'text/json',
];

export const ODD_ACCEPTS = [
  'application/xml',
  'text/html',
  'image/png',
  '*/*',
  'application/x-ndjson',
  '',
  'garbage;;q=x',
  'application/json;q=0',
];
