import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import type {
  SocketClientMessageName,
  SocketClientMessages,
  SocketAck,
  RequestSummaryPayload,
  RunTokenPayload,
} from '@parley/contracts/socket/socket.schemas';
import type { EventEnvelope } from '@parley/contracts/envelope';
import { holdsRole } from '@parley/contracts/roles';

export type RunEvent = EventEnvelope;
export type RequestSummary = RequestSummaryPayload;
export type RunToken = RunTokenPayload;

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

export interface Me {
  id: string;
  roles: string[];
}

/** The server's own rule (`holdsRole`, libs/contracts/src/roles.ts): built-in roles include the ones below. */
export function hasRole(me: Me | null, role: string): boolean {
  return me !== null && holdsRole(me, role);
}

const TOKEN_KEY = 'parley.token';
export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    closeSocket();
  },
};

export async function http<T = unknown>(
  path: string,
  init: RequestInit & { token?: string; json?: unknown } = {},
): Promise<T> {
  const token = init.token ?? session.token;
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init.json !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      ...init,
      headers,
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    });
  } catch (error) {
    throw new ApiError(`The server cannot be reached (${(error as Error).message}).`, 'NETWORK');
  }
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: string; message?: string; field?: string } } | undefined)
      ?.error;
    throw new ApiError(
      sentence(error?.message ?? `The server answered ${res.status} ${res.statusText}.`),
      error?.code ?? `HTTP_${res.status}`,
      res.status,
      error?.field,
    );
  }
  return body as T;
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

// ---------------------------------------------------------------------------------------------
// The socket: one connection per signed-in token
// ---------------------------------------------------------------------------------------------

let socket: Socket | null = null;
let socketToken: string | null = null;

export function getSocket(): Socket {
  const token = session.token;
  if (!token) throw new ApiError('Sign in first.', 'AUTH.MISSING_TOKEN');
  if (socket && socketToken === token) return socket;
  closeSocket();
  socketToken = token;
  socket = io({ path: '/socket.io', auth: { token }, transports: ['websocket', 'polling'] });
  return socket;
}

export function closeSocket(): void {
  socket?.disconnect();
  socket = null;
  socketToken = null;
}

/** Send a message and wait for its ack; a refusal throws an ApiError with the server's sentence. */
export async function emit<K extends SocketClientMessageName>(
  event: K,
  payload: SocketClientMessages[K],
): Promise<Extract<SocketAck<K>, { ok: true }>> {
  const s = getSocket();
  const ack = (await s.timeout(15_000).emitWithAck(event, payload)) as SocketAck<K>;
  if (!ack.ok) throw new ApiError(sentence(ack.error.message), ack.error.code, undefined, ack.error.field);
  return ack as Extract<SocketAck<K>, { ok: true }>;
}

// ---------------------------------------------------------------------------------------------
// Shapes the REST API returns (apps/server/src/runs/run-view.ts)
// ---------------------------------------------------------------------------------------------

export type { RequestView, RunSummary, RunView, TranscriptEntry } from '@parley/contracts/http/responses';

export interface WorkflowInfo {
  name: string;
  pattern: string;
  description?: string;
  agents: string[];
  definition: { specialists?: string[]; [k: string]: unknown };
}
