import { createHash } from 'node:crypto';
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace-node';

/**
 * The ids of a run's spans come from its log, not from chance: a span's id is derived from the run
 * and the fact that opened it (`spanIdOf`), so any instance, after any restart, names a parent span
 * the same way as the one that saw it open. The SDK asks its IdGenerator for a new span's id inside
 * `startSpan`; `pin` sets the ids the next span gets (synchronously, right before `startSpan`).
 */
export class PinnedIdGenerator implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private next?: { traceId: string; spanId: string };

  pin(traceId: string, spanId: string): void {
    this.next = { traceId, spanId };
  }

  generateTraceId(): string {
    return this.next?.traceId ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    const pinned = this.next?.spanId;
    this.next = undefined;
    return pinned ?? this.random.generateSpanId();
  }
}

/** 16 hex digits from the run and what opened the span (`chat:<callId>`, `turn:<eventId>` ...). */
export function spanIdOf(runId: string, what: string): string {
  return createHash('sha256').update(`${runId}\u0000${what}`).digest('hex').slice(0, 16);
}
