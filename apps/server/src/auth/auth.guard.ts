import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IdentityService, requireRole, type Human } from './identity';

const ROLE_KEY = 'parley:role';
/** The least role a route needs. Routes without it are public (health, docs, console). */
export const RequiresRole = (role: string) => SetMetadata(ROLE_KEY, role);

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(IdentityService) private readonly identity: IdentityService,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const role = this.reflector.getAllAndOverride<string | undefined>(ROLE_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!role) return true;
    const request = context.switchToHttp().getRequest<Request & { human?: Human }>();
    const human = this.identity.authenticate(request.headers.authorization);
    requireRole(human, role);
    request.human = human;
    return true;
  }
}

export const CurrentHuman = createParamDecorator((_: unknown, context: ExecutionContext): Human => {
  const human = context.switchToHttp().getRequest<{ human?: Human }>().human;
  if (!human) throw new Error('CurrentHuman used on a route without RequiresRole');
  return human;
});
