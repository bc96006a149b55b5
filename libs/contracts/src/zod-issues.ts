import { z } from 'zod';
import { ValidationError } from './errors';

/** Turn the first zod issue into a coded error naming the field path and what was expected. */
export function toValidationError(error: z.ZodError, code: string, prefix = ''): ValidationError {
  const issue = error.issues[0];
  const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  const where = path ? `${path}: ` : '';
  return new ValidationError(code, `${where}${issue.message}`, path || undefined, {
    issues: error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

/** Parse `value` with `schema`, or throw a ValidationError naming the bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: string,
  prefix = '',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw toValidationError(result.error, code, prefix);
  return result.data;
}
