import type { RetryPolicy, Workflow } from '@parley/contracts';
import { RetryPolicySchema, durationMs } from '@parley/contracts';

/** A workflow's retry policy in milliseconds; the schema's defaults when the workflow has no `retries:`. */
export interface RetryBounds {
  /** Tries per call, the first included. */
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export function retryBoundsOf(workflow: Pick<Workflow, 'retries'>): RetryBounds {
  const policy: RetryPolicy = workflow.retries ?? RetryPolicySchema.parse({});
  return {
    attempts: policy.attempts,
    backoffMs: durationMs(policy.backoff),
    maxBackoffMs: durationMs(policy.maxBackoff),
  };
}

/**
 * How long to wait after failed attempt `attempt` (1-based) before the next: exponential backoff
 * with full jitter, a uniform draw in [0, min(maxBackoff, backoff * 2^(attempt-1))], so that many
 * runs hit by one outage do not come back in step. A server that says when to come back
 * (`retry-after`) is obeyed, but never for longer than `maxBackoff`. `random` is in [0, 1).
 */
export function retryDelayMs(
  bounds: RetryBounds,
  attempt: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0)
    return Math.round(Math.min(retryAfterMs, bounds.maxBackoffMs));
  const ceiling = Math.min(bounds.maxBackoffMs, bounds.backoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Whether another attempt follows failed attempt `attempt` of a transient error. */
export function mayRetry(bounds: RetryBounds, attempt: number): boolean {
  return attempt < bounds.attempts;
}
