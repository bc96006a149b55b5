import { ParleyError } from '@parley/contracts';
import type { Server } from 'socket.io';
import type { IdentityService } from '../auth/identity';
import type { OriginPolicy } from './origin-policy';

/** Handshake: the Origin (engine.io, per HTTP request / upgrade), then the bearer token (socket.io). */
export function installHandshake(server: Server, origins: OriginPolicy, identity: IdentityService): void {
  server.engine.opts.allowRequest = origins.allowRequest;
  server.engine.use(origins.cors);
  server.use((socket, next) => {
    try {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const token = typeof auth?.token === 'string' ? auth.token : socket.handshake.headers.authorization;
      socket.data.human = identity.authenticate(token);
      next();
    } catch (error) {
      const body =
        error instanceof ParleyError
          ? { code: error.code, message: error.message }
          : { code: 'AUTH.INVALID_TOKEN', message: 'the token is not valid' };
      next(Object.assign(new Error(body.message), { data: body }));
    }
  });
}
