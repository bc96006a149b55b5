import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ForbiddenError, UnauthorizedError, holdsRole } from '@parley/contracts';
import type { IdentityKind } from '@parley/engine';
import { ConfigError } from '../config/config';

/**
 * An authenticated identity. `kind` (default `human`) says whether a person holds the token; an
 * `agent` or `service` token (an automation starting runs, reading the log) keeps its roles for
 * everything else but is refused on every human path: deciding, claiming, speaking, re-routing.
 */
export interface Human {
  id: string;
  roles: string[];
  kind?: IdentityKind;
}

export const TokensFileSchema = z.array(
  z.strictObject({
    token: z.string().min(16, 'a token must be at least 16 characters'),
    id: z.string().min(1),
    roles: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/)).min(1),
    kind: z.enum(['human', 'agent', 'service']).optional(),
  }),
);

export function hasRole(human: Human, role: string): boolean {
  return holdsRole(human, role);
}

/** The role under which `human` acts for a request open to `roles`, or undefined. */
export function actingRole(human: Human, roles: string[]): string | undefined {
  const match = roles.find((r) => hasRole(human, r));
  if (!match) return undefined;
  return match.startsWith('user:') ? 'requester' : human.roles.includes(match) ? match : human.roles[0];
}

export function requireRole(human: Human, role: string): void {
  if (!hasRole(human, role)) {
    throw new ForbiddenError(
      'AUTH.ROLE_REQUIRED',
      `this needs the role "${role}"; ${human.id} has ${human.roles.join(', ')}`,
    );
  }
}

/** Bearer tokens → humans. Secure by default: with nothing configured, an admin token is created. */
export class IdentityService {
  private readonly tokens = new Map<string, Human>();
  readonly notice: string | undefined;

  /** Every token it knows: the JSON logs replace them with `[redacted]` wherever one would appear. */
  secrets(): string[] {
    return [...this.tokens.keys()];
  }

  constructor(options: { dataDir: string; adminToken?: string; tokensFile?: string }) {
    const file = options.tokensFile ?? join(options.dataDir, 'tokens.json');
    if (existsSync(file)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new ConfigError(
          'PARLEY_TOKENS_FILE',
          `${file} is not valid JSON (${(error as Error).message})`,
        );
      }
      const parsed = TokensFileSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ConfigError('PARLEY_TOKENS_FILE', `${file}: ${issue.path.join('.')}: ${issue.message}`);
      }
      for (const entry of parsed.data)
        this.tokens.set(entry.token, { id: entry.id, roles: entry.roles, kind: entry.kind ?? 'human' });
    } else if (options.tokensFile) {
      throw new ConfigError('PARLEY_TOKENS_FILE', `${file} does not exist`);
    }
    if (options.adminToken) this.tokens.set(options.adminToken, { id: 'admin', roles: ['admin'] });
    // Secure by default: with nothing configured, create an admin token once; once created it stays valid.
    const adminFile = join(options.dataDir, 'admin-token');
    if (existsSync(adminFile) || this.tokens.size === 0) {
      let token: string;
      if (existsSync(adminFile)) token = readFileSync(adminFile, 'utf8').trim();
      else {
        token = randomBytes(24).toString('base64url');
        writeFileSync(adminFile, `${token}\n`, { mode: 0o600 });
      }
      this.tokens.set(token, { id: 'admin', roles: ['admin'] });
      this.notice = `the admin token is in ${adminFile} (cat it; send it as "Authorization: Bearer <token>")`;
    }
  }

  authenticate(header: string | undefined): Human {
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : header?.trim();
    if (!token)
      throw new UnauthorizedError('AUTH.MISSING_TOKEN', 'send a bearer token: Authorization: Bearer <token>');
    const human = this.lookup(token);
    if (!human) throw new UnauthorizedError('AUTH.INVALID_TOKEN', 'the token is not valid');
    return human;
  }

  private lookup(token: string): Human | undefined {
    const candidate = Buffer.from(token);
    for (const [known, human] of this.tokens) {
      const k = Buffer.from(known);
      if (k.length === candidate.length && timingSafeEqual(k, candidate)) return human;
    }
    return undefined;
  }
}
