import type { NewEvent } from '@parley/contracts';
import { ConflictError, RETRIABLE_FAILURES } from '@parley/contracts';
import type { Acting } from '../human-commands';
import type { RunState } from '../run-state';
import { actorOf, assertMay } from './permissions';

/**
 * A failed run continues from its failed step (`POST /api/runs/:id/retry`). Pure: checked against the
 * run's own state, coded errors append nothing. The fact names who retried (kind, id, role) and why;
 * the fold returns the run to `running` and settles the failure, so the engine asks the failed step's
 * model again (a new call id) and repeats nothing recorded: completed calls and tool effects stay done.
 */
export function retryRun(state: RunState, who: Acting, reason?: string): NewEvent[] {
  if (state.status !== 'failed') {
    throw new ConflictError(
      'RUN.NOT_FAILED',
      `run ${state.runId} is ${state.status}: only a failed run can be retried`,
      {
        status: state.status,
      },
    );
  }
  const role = assertMay(state, who, 'retry');
  const failedCode = state.failure?.code ?? 'UNKNOWN';
  // (RETRIABLE_FAILURES is in the contracts: the console offers Retry by the same list)
  if (!RETRIABLE_FAILURES.includes(failedCode)) {
    throw new ConflictError(
      'RUN.NOT_RETRIABLE',
      `run ${state.runId} failed with ${failedCode} (${state.failure?.message ?? 'no message'}): only a failed model call can be retried`,
      { failedCode },
    );
  }
  const by = { ...actorOf(who), role };
  return [{ type: 'run.retried', actor: by, data: { by, reason, failedCode } }];
}
