import type { z } from 'zod';
import { usageError } from './errors';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; description: string; value?: string };
export type Options = Record<string, OptionSpec>;

export type Values = Record<string, string | boolean | undefined>;

/** A positive integer flag (`--at 3`), or a usage error naming it. */
export function positiveInt(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) {
    throw usageError(`${flag}: expected a positive integer, got "${String(value)}"`);
  }
  return Number(value);
}

export function nonNegativeInt(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw usageError(`${flag}: expected an integer ≥ 0, got "${String(value)}"`);
  return Number(value);
}

/**
 * Check a request body with the contracts' schema before sending it. A failure is a usage error
 * that names the argument (`names` maps body fields to `<positional>` or `--flag`).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  body: unknown,
  names: Record<string, string>,
): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).join('.');
  const name = names[field] ?? (field || 'argument');
  const missing = /received undefined$/.test(issue.message);
  throw usageError(`${name}: ${missing ? 'required' : issue.message}`);
}
