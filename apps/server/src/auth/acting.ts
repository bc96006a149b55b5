import type { Acting } from '@parley/engine';
import { actingRole, hasRole, type Human } from './identity';

export function acting(human: Human): Acting {
  return {
    id: human.id,
    roleFor: (roles) => actingRole(human, roles),
    isAdmin: hasRole(human, 'admin'),
    kind: human.kind ?? 'human',
  };
}
