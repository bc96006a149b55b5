/** The built-in roles, each including the ones before it. Custom roles (named in policies) are flat. */
export const ROLE_RANKS: Readonly<Record<string, number>> = {
  viewer: 0,
  participant: 1,
  approver: 2,
  admin: 3,
};

/**
 * Whether an identity holds `role`: an admin holds every role; `user:<id>` is that identity only; a
 * built-in role is held by any higher one; a custom role by those who have it. One rule for the
 * server's checks and for what the console offers.
 */
export function holdsRole(identity: { id: string; roles: readonly string[] }, role: string): boolean {
  if (identity.roles.includes('admin')) return true;
  if (role.startsWith('user:')) return role === `user:${identity.id}`;
  if (role in ROLE_RANKS)
    return identity.roles.some((r) => r in ROLE_RANKS && ROLE_RANKS[r] >= ROLE_RANKS[role]);
  return identity.roles.includes(role);
}
