/**
 * Deterministic JSON-Schema instance generator: given a schema, produce a value that
 * validates against it. Strings are short phrases derived from the property name and
 * a topic (taken from the conversation by the caller).
 */
import type { JsonSchema } from './types';

export interface InstanceOptions {
  /** Short phrase from the conversation, woven into generated strings. */
  topic: string;
  /** Schema that `$ref`s resolve against (defaults to the schema itself). */
  root?: JsonSchema;
}

const MAX_DEPTH = 8;

const isObj = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Follow local `$ref`s (`#/$defs/x`, `#/definitions/x`, `#`) and merge `allOf`. */
export function resolveSchema(schema: unknown, root: JsonSchema, seen = 0): JsonSchema {
  if (!isObj(schema)) return {};
  let s = schema;
  if (typeof s.$ref === 'string' && seen < 32) {
    const target = resolvePointer(root, s.$ref);
    const { $ref: _ignored, ...rest } = s;
    void _ignored;
    s = { ...resolveSchema(target, root, seen + 1), ...rest };
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    const { allOf, ...rest } = s;
    let merged: JsonSchema = { ...rest };
    for (const part of allOf as unknown[]) {
      const r = resolveSchema(part, root, seen + 1);
      merged = {
        ...r,
        ...merged,
        properties: {
          ...(isObj(r.properties) ? r.properties : {}),
          ...(isObj(merged.properties) ? merged.properties : {}),
        },
        required: [...toStrings(r.required), ...toStrings(merged.required)],
      };
    }
    s = merged;
  }
  return s;
}

function resolvePointer(root: JsonSchema, ref: string): unknown {
  if (!ref.startsWith('#')) return {};
  const parts = ref
    .slice(1)
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
  let cur: unknown = root;
  for (const p of parts) {
    if (!isObj(cur) && !Array.isArray(cur)) return {};
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

const toStrings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Properties of an object schema, resolved. */
export function schemaProperties(schema: JsonSchema, root: JsonSchema): Record<string, JsonSchema> {
  const s = resolveSchema(schema, root);
  const out: Record<string, JsonSchema> = {};
  if (isObj(s.properties)) {
    for (const [k, v] of Object.entries(s.properties)) out[k] = resolveSchema(v, root);
  }
  return out;
}

/** Enum values (or the const) allowed by a schema, looking through anyOf/oneOf branches. */
export function schemaEnum(schema: JsonSchema | undefined, root: JsonSchema): unknown[] {
  if (!schema) return [];
  const s = resolveSchema(schema, root);
  if (Array.isArray(s.enum)) return s.enum;
  if ('const' in s) return [s.const];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches)) {
      const values = branches.flatMap((b) => schemaEnum(b as JsonSchema, root));
      if (values.length) return values;
    }
  }
  return [];
}

/** `name` is the property name the value is for; it seeds generated strings. */
export function generateInstance(schema: JsonSchema, opts: InstanceOptions, name = 'value'): unknown {
  return gen(schema, opts.root ?? schema, opts.topic, name, 0);
}

function pickType(s: JsonSchema): string {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const nonNull = t.filter((x) => x !== 'null');
    return String(nonNull[0] ?? t[0] ?? 'null');
  }
  if (isObj(s.properties) || Array.isArray(s.required)) return 'object';
  if (s.items !== undefined || Array.isArray(s.prefixItems)) return 'array';
  return 'string';
}

function gen(schemaIn: unknown, root: JsonSchema, topic: string, name: string, depth: number): unknown {
  const s = resolveSchema(schemaIn, root);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches) && branches.length > 0) {
      // First branch, but prefer a non-null one so "nullable" fields still carry data.
      const nonNull = branches.find((b) => !(isObj(b) && b.type === 'null'));
      const { [key]: _drop, ...rest } = s;
      void _drop;
      return gen({ ...rest, ...resolveSchema(nonNull ?? branches[0], root) }, root, topic, name, depth);
    }
  }
  switch (pickType(s)) {
    case 'object':
      return genObject(s, root, topic, depth);
    case 'array':
      return genArray(s, root, topic, name, depth);
    case 'integer':
      return genNumber(s, true);
    case 'number':
      return genNumber(s, false);
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return genString(s, name, topic);
  }
}

function genObject(s: JsonSchema, root: JsonSchema, topic: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isObj(s.properties) ? s.properties : {};
  const required = new Set(toStrings(s.required));
  for (const [key, sub] of Object.entries(props)) {
    // Below the depth limit, keep only required properties so recursive schemas terminate.
    if (depth >= MAX_DEPTH && !required.has(key)) continue;
    out[key] = gen(sub, root, topic, key, depth + 1);
  }
  for (const key of required) if (!(key in out)) out[key] = phrase(key, topic);
  return out;
}

function genArray(s: JsonSchema, root: JsonSchema, topic: string, name: string, depth: number): unknown[] {
  const min = typeof s.minItems === 'number' ? s.minItems : 0;
  const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
  const wanted = depth >= MAX_DEPTH ? min : Math.max(min, prefix.length, 1);
  const count = Math.min(wanted, max);
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const itemSchema = i < prefix.length ? prefix[i] : s.items === false ? {} : s.items;
    out.push(
      gen(
        itemSchema ?? {},
        root,
        topic,
        count > 1 ? `${singular(name)} ${i + 1}` : singular(name),
        depth + 1,
      ),
    );
  }
  return out;
}

function genNumber(s: JsonSchema, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  let lo = -Infinity;
  let hi = Infinity;
  if (typeof s.minimum === 'number') lo = s.exclusiveMinimum === true ? s.minimum + step : s.minimum;
  if (typeof s.exclusiveMinimum === 'number') lo = Math.max(lo, s.exclusiveMinimum + step);
  if (typeof s.maximum === 'number') hi = s.exclusiveMaximum === true ? s.maximum - step : s.maximum;
  if (typeof s.exclusiveMaximum === 'number') hi = Math.min(hi, s.exclusiveMaximum - step);
  if (integer) {
    lo = Math.ceil(lo);
    hi = Math.floor(hi);
  }
  let v = 1;
  if (v < lo || v > hi) v = Number.isFinite(lo) ? lo : hi;
  if (v > hi && Number.isFinite(hi)) v = Number.isFinite(lo) ? (lo + hi) / 2 : hi;
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) {
    const m = s.multipleOf;
    const up = Math.ceil(v / m) * m;
    v = up <= hi ? up : Math.floor(v / m) * m;
  }
  return integer ? Math.round(v) : v;
}

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-01T00:00:00Z',
  date: '2024-01-01',
  time: '00:00:00',
  email: 'offline@example.com',
  uri: 'https://example.com/offline',
  url: 'https://example.com/offline',
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'example.com',
  ipv4: '127.0.0.1',
};

function genString(s: JsonSchema, name: string, topic: string): string {
  if (typeof s.format === 'string' && FORMATS[s.format]) return FORMATS[s.format];
  let v = phrase(name, topic);
  const max = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  if (v.length > max) v = v.slice(0, max).trimEnd();
  while (v.length < min) v += '.';
  return v.slice(0, max === Infinity ? undefined : max);
}

/** "order_id" + "refund my order" -> "Order id: refund my order". */
export function phrase(name: string, topic: string): string {
  const label = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_\-.]+/g, ' ')
    .trim()
    .toLowerCase();
  const cap = label ? label[0].toUpperCase() + label.slice(1) : 'Value';
  return topic ? `${cap}: ${topic}` : cap;
}

function singular(name: string): string {
  return name.endsWith('ies')
    ? name.slice(0, -3) + 'y'
    : name.endsWith('s') && name.length > 3
      ? name.slice(0, -1)
      : name;
}
