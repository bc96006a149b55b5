import { holdsRole } from '@parley/contracts/roles';
import { DEFAULT_PERMISSIONS, RETRIABLE_FAILURES } from '@parley/contracts/workflow/workflow.schema';
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

type Me = { id: string; roles: readonly string[] };

const holds = (roles: readonly string[], me: Me, requestedBy: string): boolean =>
  roles.some((r) => (r === 'requester' ? me.id === requestedBy : holdsRole(me, r)));

export function runActions(
  workflow: Pick<Workflow, 'permissions'> | null,
  run: {
    status: string;
    requestedBy: string;
    /** The failure's code when the run failed (a retry continues only from RETRIABLE_FAILURES). */
    failureCode?: string;
  },
  me: Me,
): Record<RunActionName, RunActionState> {
  const state = (action: RunActionName, applies: boolean, notNow: string): RunActionState => {
    const roles = workflow?.permissions?.[action] ?? DEFAULT_PERMISSIONS[action];
    if (!holds(roles, me, run.requestedBy))
      return { allowed: false, roles, why: `${action} is for ${roles.join(', ')}` };
    if (!applies) return { allowed: false, roles, why: notNow };
    return { allowed: true, roles };
  };
  const ended = ENDED_STATUSES.has(run.status);
  const retriable = run.failureCode === undefined || RETRIABLE_FAILURES.includes(run.failureCode);
  return {
    cancel: state('cancel', !ended, `the run is ${run.status}`),
    retry: state(
      'retry',
      run.status === 'failed' && retriable,
      run.status !== 'failed'
        ? 'only a failed run is retried'
        : `the run failed with ${run.failureCode}: only a failed model call is retried`,
    ),
    fork: state('fork', true, ''),
  };
}

/**
 * Re-routing a handoff run (`permissions.override`, else the roles of the open routing review it
 * would settle, else participants: the server's `rolesFor(state, 'override')`), while it runs.
 */
export function rerouteAction(
  workflow: Pick<Workflow, 'permissions' | 'pattern'> | null,
  run: { status: string; requestedBy: string; openRouteReviewRoles?: readonly string[] },
  me: Me,
): RunActionState {
  const roles = workflow?.permissions?.override ?? run.openRouteReviewRoles ?? ['participant'];
  if (workflow?.pattern !== 'handoff')
    return { allowed: false, roles, why: 'only a handoff run is re-routed' };
  if (!holds(roles, me, run.requestedBy))
    return { allowed: false, roles, why: `re-routing is for ${roles.join(', ')}` };
  if (ENDED_STATUSES.has(run.status)) return { allowed: false, roles, why: `the run is ${run.status}` };
  return { allowed: true, roles };
}
