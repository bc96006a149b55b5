import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration written as `500ms`, `30s`, `15m`, `2h` or `1d`. */
export const DurationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as "30s", "15m", "2h" or "1d"');

export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
