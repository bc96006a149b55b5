import { z } from 'zod';

/** How deep a free-form payload (a decision's edit, a plan ...) may nest. */
export const MAX_PAYLOAD_DEPTH = 64;

/**
 * The first reason `value` is not a plain JSON value of bounded depth, with its path; undefined
 * when it is one. Iterative: a payload nested 50,000 levels deep must not overflow the stack here
 * (it would in the canonical JSON and hash of the event it ends up in).
 */
export function jsonValueProblem(
  value: unknown,
  maxDepth = MAX_PAYLOAD_DEPTH,
): { path: PropertyKey[]; message: string } | undefined {
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    // reported on the payload itself: a path 65 levels long names nothing useful
    if (path.length > maxDepth)
      return { path: [], message: `expected at most ${maxDepth} levels of nesting` };
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, message: 'expected a finite number' };
      continue;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
      continue;
    }
    if (typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
      for (const key of Object.keys(v))
        stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
      continue;
    }
    return { path, message: `expected a JSON value, received ${describe(v)}` };
  }
  return undefined;
}

function describe(v: unknown): string {
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

/** Any plain JSON value, nested at most MAX_PAYLOAD_DEPTH levels (REST bodies and socket messages). */
export const JsonPayload = z.unknown().superRefine((value, ctx) => {
  const problem = jsonValueProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
});
