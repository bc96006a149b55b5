import { z } from 'zod';
import { ValidationError } from './errors';
import type { ErrorCode } from './error-codes';

/**
 * The path of the field an issue is about, as `a.0.b`. An unknown key is the field itself (zod
 * reports it at the object that holds it): `{"runId": "r", "sneaky": 1}` names `sneaky`.
 */
export function issuePath(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
  return path.join('.');
}

/** Turn the first zod issue into a coded error naming the field path and what was expected. */
export function toValidationError(error: z.ZodError, code: ErrorCode, prefix = ''): ValidationError {
  const issue = error.issues[0];
  const path = [prefix, issuePath(issue)].filter((p) => p !== '').join('.');
  const where = path ? `${path}: ` : '';
  return new ValidationError(code, `${where}${issue.message}`, path || undefined, {
    issues: error.issues.map((i) => ({ path: issuePath(i), message: i.message })),
  });
}

/** Parse `value` with `schema`, or throw a ValidationError naming the bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode,
  prefix = '',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw toValidationError(result.error, code, prefix);
  return result.data;
}
