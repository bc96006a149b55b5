import type { z } from 'zod';
import {
  ParleyApiError,
  ParleyClient,
  ParleyConnectionError,
  ParleyContractError,
  type Answer,
  type RequestSummary as ClientRequestSummary,
} from '@parley/client';
import { holdsRole } from '@parley/contracts/roles';
import { TOKEN_KEY, prefetchingFetch } from './prefetch';

/**
 * The console talks to the server through `@parley/client` only: every answer is parsed with its
 * schema from the route table, and every shape below is the client's (hence the contracts').
 */
export type Me = Answer<'me'>;
export type WorkflowInfo = Answer<'listWorkflows'>['workflows'][number];
export type RunSummary = Answer<'listRuns'>['runs'][number];
export type RunView = Answer<'getRun'>;
export type RequestView = Answer<'getRequest'>;
export type RequestSummary = ClientRequestSummary;
export type TranscriptEntry = RunView['transcript'][number];
export type RunEvent = Answer<'runEvents'>['events'][number];
export type RunToken = { agent: string; delta: string };
export type VerifyAnswer = Answer<'verifyRun'>;
export type AuditAnswer = Answer<'runAudit'>;
export type RunStateAnswer = Answer<'runState'>;

/** A failure as a sentence for people, with the code for those who want it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The server's own rule (`holdsRole`, libs/contracts/src/roles.ts): built-in roles include the ones below. */
export function hasRole(me: Me | null, role: string): boolean {
  return me !== null && holdsRole(me, role);
}

export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

let cached: { token: string; client: ParleyClient } | null = null;

const fetchWithPrefetch = prefetchingFetch();

/**
 * The client of the signed-in user (or of `token`), on the server that served the console. Its fetch
 * takes the page load's first answers when main.tsx prefetched them (prefetch.ts).
 */
export function client(token = session.token): ParleyClient {
  if (!token) throw new ApiError('Sign in first.', 'AUTH.MISSING_TOKEN');
  if (cached?.token !== token)
    cached = {
      token,
      client: new ParleyClient({ baseUrl: location.origin, token, fetch: fetchWithPrefetch }),
    };
  return cached.client;
}

/** A client call whose failure is a sentence for people (an `ApiError`). */
export async function api<T>(call: (parley: ParleyClient) => Promise<T>, token?: string): Promise<T> {
  try {
    return await call(client(token));
  } catch (error) {
    throw asApiError(error);
  }
}

export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ParleyApiError)
    return new ApiError(sentence(error.serverMessage), error.code, error.status || undefined, error.field);
  if (error instanceof ParleyConnectionError)
    return new ApiError(`The server cannot be reached (${error.reason}).`, 'NETWORK');
  if (error instanceof ParleyContractError)
    return new ApiError(
      `The server answered in a shape this console does not know: ${error.message}.`,
      'CONTRACT',
    );
  return new ApiError(sentence((error as Error)?.message ?? String(error)), 'UNKNOWN');
}

export function sentence(message: string): string {
  const m = message.trim();
  if (!m) return 'Something went wrong.';
  const s = m[0].toUpperCase() + m.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** The first zod issue as a sentence. */
export function issueSentence(error: z.ZodError): string {
  const issue = error.issues[0];
  return sentence(issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message);
}
