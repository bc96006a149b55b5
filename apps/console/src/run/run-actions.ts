import { holdsRole } from '@parley/contracts/roles';
import { DEFAULT_PERMISSIONS } from '@parley/contracts/workflow/workflow.schema';
import { ENDED_STATUSES, type Workflow } from './run-events';

/**
 * What the signed-in user may do to the run, by the server's own rule (libs/engine/src/hitl/
 * permissions.ts): the workflow's `permissions.<action>`, else the defaults; `requester` is whoever
 * started the run. The console offers only what the server would accept; the server checks again.
 */
export type RunActionName = keyof typeof DEFAULT_PERMISSIONS;

export interface RunActionState {
  /** Offered: the user holds a role it is open to, and the run is in a state it applies to. */
  allowed: boolean;
  /** The roles the action is open to (shown when it is not offered). */
  roles: readonly string[];
  /** Why it is not offered, as a sentence. */
  why?: string;
}

export function runActions(
  workflow: Pick<Workflow, 'permissions'> | null,
  run: { status: string; requestedBy: string },
  me: { id: string; roles: readonly string[] },
): Record<RunActionName, RunActionState> {
  const may = (action: RunActionName): { ok: boolean; roles: readonly string[] } => {
    const roles = workflow?.permissions?.[action] ?? DEFAULT_PERMISSIONS[action];
    const ok = roles.some((r) => (r === 'requester' ? me.id === run.requestedBy : holdsRole(me, r)));
    return { ok, roles };
  };
  const state = (action: RunActionName, applies: boolean, notNow: string): RunActionState => {
    const { ok, roles } = may(action);
    if (!ok) return { allowed: false, roles, why: `${action} is for ${roles.join(', ')}` };
    if (!applies) return { allowed: false, roles, why: notNow };
    return { allowed: true, roles };
  };
  const ended = ENDED_STATUSES.has(run.status);
  return {
    cancel: state('cancel', !ended, `the run is ${run.status}`),
    retry: state('retry', run.status === 'failed', 'only a failed run is retried'),
    fork: state('fork', true, ''),
  };
}
