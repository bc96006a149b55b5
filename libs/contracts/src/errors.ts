/**
 * Coded errors. The code is stable and machine-readable; the message is a sentence for a person.
 * They become HTTP responses or socket acks only at the edge.
 */
export type ErrorKind =
  'validation' | 'not_found' | 'conflict' | 'forbidden' | 'unauthorized' | 'unavailable' | 'too_large';

import type { ErrorCode } from './error-codes';

export class ParleyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly kind: ErrorKind,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { code: string; message: string; field?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field ? { field: this.field } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export class ValidationError extends ParleyError {
  constructor(code: ErrorCode, message: string, field?: string, details?: Record<string, unknown>) {
    super(code, message, 'validation', field, details);
  }
}

export class NotFoundError extends ParleyError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, 'not_found', undefined, details);
  }
}

export class ConflictError extends ParleyError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, 'conflict', undefined, details);
  }
}

export class ForbiddenError extends ParleyError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, 'forbidden', undefined, details);
  }
}

/** A body over its limit (HTTP 413). */
export class TooLargeError extends ParleyError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, 'too_large', undefined, details);
  }
}

export class UnauthorizedError extends ParleyError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, 'unauthorized');
  }
}

/**
 * This instance does not own the run (ownership moved, or the broker fenced this instance's writes
 * to the run's partition). Nothing was written; the run's owner does it.
 */
export class NotOwnerError extends ParleyError {
  constructor(runId: string, why = 'ownership moved') {
    super(
      'CLUSTER.NOT_OWNER',
      `this instance does not own run ${runId} (${why}); try again`,
      'unavailable',
      undefined,
      { runId },
    );
  }
}

/** A stale `expectedSeq`: someone else appended to the stream first. Nothing was written. */
export class ConcurrencyError extends ParleyError {
  constructor(
    readonly runId: string,
    readonly expectedSeq: number,
    readonly actualSeq: number,
  ) {
    super(
      'EVENT_STORE.CONCURRENCY',
      `Stream ${runId} is at seq ${actualSeq}, but the append expected seq ${expectedSeq}; nothing was written.`,
      'conflict',
      undefined,
      { runId, expectedSeq, actualSeq },
    );
  }
}
