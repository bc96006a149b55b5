/**
 * What changed in a run's state from one event to the next, as paths (`status`,
 * `pendingRequests.0.status`): every changed, added or removed leaf, and every object or list that
 * holds one (so a collapsed tree can still say where to look). Lists are compared by position.
 */
export interface StateDiff {
  /** Paths whose value differs (a leaf changed, was added, or holds such a leaf). */
  changed: Set<string>;
  /** Paths that were there before and are gone, with what they held. */
  removed: { path: string; before: unknown }[];
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] =>
  typeof v === 'object' && v !== null;

export const childPath = (path: string, key: string | number): string =>
  path ? `${path}.${key}` : String(key);

export function stateDiff(before: unknown, after: unknown): StateDiff {
  const diff: StateDiff = { changed: new Set(), removed: [] };
  walk(before, after, '', diff);
  return diff;
}

/** Whether anything under `path` differs; records it and returns true if so. */
function walk(before: unknown, after: unknown, path: string, diff: StateDiff): boolean {
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    let any = false;
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) {
      const b = (before as Record<string, unknown>)[key];
      const a = (after as Record<string, unknown>)[key];
      const at = childPath(path, key);
      if (!(key in after)) {
        diff.removed.push({ path: at, before: b });
        any = true;
      } else if (walk(b, a, at, diff)) any = true;
    }
    if (any && path) diff.changed.add(path);
    return any;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return false;
  if (path) diff.changed.add(path);
  if (isContainer(after)) markAll(after, path, diff); // new, or was a leaf: all of it is new
  return true;
}

function markAll(value: Record<string, unknown> | unknown[], path: string, diff: StateDiff): void {
  for (const [key, v] of Object.entries(value)) {
    const at = childPath(path, key);
    diff.changed.add(at);
    if (isContainer(v)) markAll(v, at, diff);
  }
}
