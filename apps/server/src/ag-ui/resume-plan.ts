import type { ResumeEntry } from '@ag-ui/core';
import {
  AgUiResumePayload,
  ParleyError,
  ValidationError,
  parseOrThrow,
  type DecisionBody,
} from '@parley/contracts';
import { decideHumanCommand, validateEdit, type RunState, type ToolRegistry } from '@parley/engine';
import { acting } from '../auth/acting';
import type { Human } from '../auth/identity';

/** A resolved resume entry, checked: the decision to send through the DecideRequest command. */
export interface PlannedDecision {
  requestId: string;
  body: DecisionBody;
  /** `resume.<i>`: where in the input it came from (errors name it). */
  field: string;
}

/**
 * Check every resume entry before any is applied, so that bad input changes nothing: the interrupt
 * is a request of this thread (`AG_UI.UNKNOWN_INTERRUPT`), answered once (`AG_UI.DUPLICATE_RESUME`),
 * a resolved entry's payload is a decision (`AG_UI.INVALID_RESUME`), and the decision passes the
 * very checks the command makes (a dry run of the pure decider on the run's state: expired,
 * four-eyes, roles, the payload hash ...; the code is the command's, the field names the entry).
 * A `cancelled` entry decides nothing: under a quorum or a group of humans, one client setting an
 * interrupt aside must not close it for the others.
 */
export function planResume(
  state: RunState,
  resume: readonly ResumeEntry[],
  human: Human,
  now: Date,
  tools: ToolRegistry,
): PlannedDecision[] {
  const seen = new Set<string>();
  const planned: PlannedDecision[] = [];
  resume.forEach((entry, index) => {
    const field = `resume.${index}`;
    if (seen.has(entry.interruptId)) {
      throw new ValidationError(
        'AG_UI.DUPLICATE_RESUME',
        `${field}.interruptId: interrupt ${entry.interruptId} is answered twice`,
        `${field}.interruptId`,
      );
    }
    seen.add(entry.interruptId);
    const request = state.requests.find((r) => r.requestId === entry.interruptId);
    if (!request) {
      throw new ValidationError(
        'AG_UI.UNKNOWN_INTERRUPT',
        `${field}.interruptId: thread ${state.runId} has no interrupt ${entry.interruptId}`,
        `${field}.interruptId`,
      );
    }
    if (entry.status === 'cancelled') return;
    const body = parseOrThrow(AgUiResumePayload, entry.payload, 'AG_UI.INVALID_RESUME', `${field}.payload`);
    try {
      decideHumanCommand(
        state,
        acting(human),
        { type: 'request.decide', requestId: request.requestId, ...body },
        { now, validateEdit: (r, payload) => validateEdit(state, r, payload, tools) },
      );
    } catch (error) {
      throw entryError(error, field);
    }
    planned.push({ requestId: request.requestId, body, field });
  });
  return planned;
}

/** The command's own coded error, naming the resume entry it came from. */
export function entryError(error: unknown, field: string): unknown {
  if (!(error instanceof ParleyError)) return error;
  const where = error.field ? `${field}.payload.${error.field}` : `${field}.interruptId`;
  return new ParleyError(error.code, `${field}: ${error.message}`, error.kind, where, error.details);
}
