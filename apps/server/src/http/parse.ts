import type { z } from 'zod';
import { parseOrThrow, type ErrorCode } from '@parley/contracts';

/** Parse a request body or query with its contract schema: 400 naming the field on failure. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode = 'REQUEST.INVALID_BODY',
): z.infer<S> {
  return parseOrThrow(schema, value ?? {}, code);
}
