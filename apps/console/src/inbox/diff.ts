import { itemPath } from './json-schema';

/** One field that an edit changed: its path, what was proposed and what the edit says. */
export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fields that differ between two JSON values, object by object and item by item (a list's items
 * compared by position: an added or removed item is one change, proposed or edited `undefined`);
 * leaves whole.
 */
export function diffValues(before: unknown, after: unknown, path = ''): Change[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => diffValues(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after) && (before.some(isObject) || after.some(isObject))) {
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, i) =>
      diffValues(before[i], after[i], itemPath(path || '(the payload)', i)),
    ).flat();
  }
  return JSON.stringify(before) === JSON.stringify(after)
    ? []
    : [{ path: path || '(the payload)', before, after }];
}
