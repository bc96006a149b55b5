import type { Actor, RunAction } from '@parley/contracts';
import { DEFAULT_PERMISSIONS, ForbiddenError } from '@parley/contracts';
import type { Acting } from '../human-commands';
import type { RunState } from '../run-state';

/**
 * Who may take a run action (cancel, fork, override a handoff, retry): the workflow's
 * `permissions.<action>`, else the safe default. `requester` names whoever started the run; any other
 * name is a role (the built-in ranks included: an admin holds every role). Overriding a handoff
 * defaults to the roles of the routing review it settles, else `participant`.
 */
export function rolesFor(state: RunState, action: RunAction): readonly string[] {
  const declared = state.workflow.permissions?.[action];
  if (declared) return declared;
  if (action === 'override') {
    const review = state.requests.find((r) => r.status === 'open' && r.subject.type === 'route');
    return review?.roles ?? ['participant'];
  }
  return DEFAULT_PERMISSIONS[action];
}

/**
 * The role under which `who` may take `action` on this run; a coded 403 (`RUN.FORBIDDEN`, with the
 * action and the roles it is open to) otherwise. Checked before anything is appended: a refused
 * command leaves the log as it was.
 */
export function assertMay(state: RunState, who: Acting, action: RunAction): string {
  const roles = rolesFor(state, action);
  const role =
    roles.includes('requester') && who.id === state.requestedBy
      ? 'requester'
      : who.roleFor(roles.filter((r) => r !== 'requester'));
  if (!role) {
    throw new ForbiddenError(
      'RUN.FORBIDDEN',
      `${who.id} may not ${action} run ${state.runId}: ${action} is for ${roles.join(', ')}`,
      { action, roles: [...roles] },
    );
  }
  return role;
}

/** The log's actor for an action taken by `who` under `role`: a human, an agent's or a service's token. */
export function actorOf(who: Acting, role?: string): Actor {
  return { kind: who.kind ?? 'human', id: who.id, ...(role ? { role } : {}) };
}
