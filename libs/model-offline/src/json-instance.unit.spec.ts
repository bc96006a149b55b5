import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { generateInstance } from './json-instance';
import type { JsonSchema } from './types';

const gen = (schema: JsonSchema, topic = 'the launch plan'): unknown => generateInstance(schema, { topic });
const fromZod = (s: z.ZodType): JsonSchema => z.toJSONSchema(s) as JsonSchema;

describe('generateInstance', () => {
  it('produces values that validate against zod-derived schemas', () => {
    const schema = z.object({
      title: z.string(),
      note: z.string().nullable(),
      score: z.number().int().min(3).max(5),
      ratio: z.number().gt(2).lt(3),
      tags: z
        .array(z.enum(['x', 'y']))
        .min(2)
        .max(4),
      kind: z.literal('k'),
      either: z.union([z.boolean(), z.string()]),
      nested: z.object({ deep: z.array(z.object({ id: z.string().min(40) })) }),
      when: z.iso.datetime(),
      email: z.email(),
      flag: z.boolean(),
    });
    const value = gen(fromZod(schema));
    assert.doesNotThrow(() => schema.parse(value));
  });

  it('follows defaults: number 1, boolean false, one array item, enum first, all properties', () => {
    const value = gen({
      type: 'object',
      properties: {
        n: { type: 'number' },
        b: { type: 'boolean' },
        a: { type: 'array', items: { type: 'integer' } },
        e: { enum: ['first', 'second'] },
        o: { type: 'object', properties: { optional: { type: 'string' } } },
      },
    });
    assert.deepEqual(value, {
      n: 1,
      b: false,
      a: [1],
      e: 'first',
      o: { optional: 'Optional: the launch plan' },
    });
  });

  it('derives strings from the property name and the topic', () => {
    assert.deepEqual(gen({ type: 'object', properties: { order_id: { type: 'string' } } }, 'refund'), {
      order_id: 'Order id: refund',
    });
  });

  it('resolves $ref / $defs and anyOf (first non-null branch)', () => {
    const schema: JsonSchema = {
      $defs: {
        Step: {
          type: 'object',
          properties: { who: { type: 'string', enum: ['a', 'b'] } },
          required: ['who'],
        },
      },
      type: 'object',
      properties: {
        step: { $ref: '#/$defs/Step' },
        maybe: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 7 }] },
      },
    };
    assert.deepEqual(gen(schema), { step: { who: 'a' }, maybe: 7 });
  });

  it('terminates on recursive schemas', () => {
    const schema: JsonSchema = {
      $defs: {
        Node: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/$defs/Node' } },
          },
          required: ['name', 'children'],
        },
      },
      $ref: '#/$defs/Node',
    };
    const Node: z.ZodType = z.lazy(() => z.object({ name: z.string(), children: z.array(Node) }));
    assert.doesNotThrow(() => Node.parse(gen(schema)));
  });

  it('is deterministic', () => {
    const schema = fromZod(z.object({ a: z.string(), b: z.array(z.number()) }));
    assert.deepEqual(gen(schema), gen(schema));
  });
});
