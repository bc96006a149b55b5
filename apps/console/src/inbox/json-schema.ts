/**
 * The few JSON Schema shapes Parley's requests use (a tool's parameters from zod, a pattern's edit
 * schema, `{draft}` / `{output}`), enough to generate an edit form: objects with properties,
 * strings, numbers, integers, booleans, enums, consts, lists of strings (a line each) and lists of
 * anything else the form knows (a magentic plan's steps: one group of fields per item). Anything else
 * is edited as JSON.
 */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  default?: unknown;
}

export type Kind =
  'object' | 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'const' | 'strings' | 'list' | 'json';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** How a field of this schema is edited. */
export function kindOf(schema: JsonSchema): Kind {
  if (schema.const !== undefined) return 'const';
  if (schema.enum) return 'enum';
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type === 'object' && schema.properties) return 'object';
  if (type === 'string' || type === 'number' || type === 'integer' || type === 'boolean') return type;
  if (type === 'array' && schema.items) {
    const item = kindOf(schema.items);
    if (item === 'string') return 'strings';
    if (item !== 'json') return 'list';
  }
  return 'json';
}

/** A schema that describes a value, for a request that carries none (every field is editable). */
export function inferSchema(value: unknown): JsonSchema {
  if (typeof value === 'string') return { type: 'string' };
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'integer' : 'number' };
  if (typeof value === 'boolean') return { type: 'boolean' };
  if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
    return { type: 'array', items: { type: 'string' } };
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
    // one item schema for all: every key any item has, typed by its first occurrence
    const properties: Record<string, JsonSchema> = {};
    for (const item of value) for (const [k, v] of Object.entries(item)) properties[k] ??= inferSchema(v);
    return { type: 'array', items: { type: 'object', properties } };
  }
  if (isRecord(value))
    return {
      type: 'object',
      properties: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inferSchema(v)])),
    };
  return {};
}

/**
 * The part of the proposed payload the edit schema covers: for a tool call (`{tool, args}` edited as
 * `{args}`), its `args`; a payload that is a bare value, under the schema's one property.
 */
export function editableValue(schema: JsonSchema, payload: unknown): unknown {
  if (kindOf(schema) !== 'object') return payload;
  const keys = Object.keys(schema.properties!);
  if (!isRecord(payload)) return keys.length === 1 ? { [keys[0]]: payload } : {};
  return Object.fromEntries(keys.filter((k) => k in payload).map((k) => [k, payload[k]]));
}

/** What is wrong with a value for its schema, as sentences with the field's path (empty: nothing). */
export function problems(schema: JsonSchema, value: unknown, path = ''): string[] {
  const name = path || 'the payload';
  const kind = kindOf(schema);
  if (value === undefined || value === '') return [];
  if (kind === 'object' && isRecord(value)) {
    const out: string[] = [];
    for (const key of schema.required ?? [])
      if (value[key] === undefined || value[key] === '') out.push(`${join(path, key)} is required.`);
    for (const [key, sub] of Object.entries(schema.properties!))
      out.push(...problems(sub, value[key], join(path, key)));
    return out;
  }
  if ((kind === 'list' || kind === 'strings') && Array.isArray(value)) {
    const items = schema.minItems === 1 ? 'one item' : `${schema.minItems} items`;
    if (schema.minItems !== undefined && value.length < schema.minItems)
      return [`${name} needs at least ${items}.`];
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return [`${name} takes at most ${schema.maxItems} items.`];
    return value.flatMap((item, i) => {
      const at = itemPath(path || 'the payload', i);
      if (kind === 'list' && kindOf(schema.items!) === 'object' && !isRecord(item))
        return [`${at} is missing.`];
      return problems(schema.items!, item, at);
    });
  }
  if ((kind === 'number' || kind === 'integer') && typeof value === 'number') {
    if (kind === 'integer' && !Number.isInteger(value)) return [`${name} must be a whole number.`];
    if (schema.minimum !== undefined && value < schema.minimum)
      return [`${name} must be at least ${schema.minimum}.`];
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      return [`${name} must be more than ${schema.exclusiveMinimum}.`];
    if (schema.maximum !== undefined && value > schema.maximum)
      return [`${name} must be at most ${schema.maximum}.`];
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
      return [`${name} must be less than ${schema.exclusiveMaximum}.`];
  }
  if (kind === 'string' && typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) return [`${name} is too short.`];
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return [`${name} is too long.`];
  }
  return [];
}

export const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/** A new item of a list: an object with its consts filled in, nothing else chosen yet. */
export function newItem(schema: JsonSchema): unknown {
  const kind = kindOf(schema);
  if (kind === 'const') return schema.const;
  if (kind === 'object')
    return Object.fromEntries(
      Object.entries(schema.properties!)
        .filter(([, sub]) => sub.const !== undefined || sub.default !== undefined)
        .map(([k, sub]) => [k, sub.const ?? sub.default]),
    );
  if (kind === 'list' || kind === 'strings') return [];
  return schema.default;
}

/** How the form and the diff name an item of a list to a person: counted from 1 (`steps #2`). */
export const itemPath = (path: string, index: number): string => `${path} #${index + 1}`;
