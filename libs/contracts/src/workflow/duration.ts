import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The longest duration a workflow may name: a deadline further away is not a deadline. */
export const MAX_DURATION_MS = 366 * UNIT_MS.d;

/** A duration written as `500ms`, `30s`, `15m`, `2h` or `1d`, at most 366 days. */
export const DurationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as "30s", "15m", "2h" or "1d"')
  // `99999999999d` would make an invalid deadline date (a RangeError when the request opens)
  .refine(
    (d) => !/^\d+(ms|s|m|h|d)$/.test(d) || durationMs(d) <= MAX_DURATION_MS,
    'expected a duration of at most 366 days ("366d")',
  );

export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
