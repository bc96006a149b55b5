/** node:http server speaking the OpenAI chat-completions API plus a small admin surface. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completionBody, completionMeta, usageFor } from './completion';
import { parseChatRequest, parseFaults } from './request-schema';
import { decideReply } from './rules';
import { pacedTokens, streamReply } from './sse';
import { type OfflineStats, StatsAndFaults } from './stats';
import type { Reply } from './types';

export interface OfflineModelOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (an ephemeral port). */
  port?: number;
  /**
   * Delay per token in ms; default 0. A streamed reply waits before each token, a whole one as long
   * as its stream would have taken (a model takes as long to write an answer either way).
   */
  tokenLatencyMs?: number;
  /** Receives one line per handled request. */
  log?: (line: string) => void;
}

export interface OfflineModelServer {
  /** Base URL for the openai SDK, e.g. http://127.0.0.1:43123/v1 */
  url: string;
  stats(): OfflineStats;
  resetStats(): void;
  injectFaults(f: { invalidStructuredOutputs?: number; httpErrors?: number }): void;
  close(): Promise<void>;
}

export const MODEL_IDS = ['offline'];
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const INVALID_STRUCTURED = '{"not": "valid"';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const errorBody = (e: HttpError): unknown => ({
  error: { message: e.message, type: e.type, param: null, code: e.code },
});

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const buf = c as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, 'Request body too large.', 'invalid_request_error', 'body_too_large');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(
      400,
      'We could not parse the JSON body of your request.',
      'invalid_request_error',
      'invalid_json',
    );
  }
}

export async function startOfflineModelServer(opts: OfflineModelOptions = {}): Promise<OfflineModelServer> {
  const host = opts.host ?? '127.0.0.1';
  const latency = Math.max(0, opts.tokenLatencyMs ?? 0);
  const log = opts.log ?? ((): void => undefined);
  const state = new StatsAndFaults();

  async function chatCompletions(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const body = await readJson(req);
    if (state.takeHttpError()) {
      throw new HttpError(
        500,
        'Injected fault: the offline model simulated a server error.',
        'server_error',
        'injected_fault',
      );
    }
    const parsed = parseChatRequest(body);
    if (!parsed.ok)
      throw new HttpError(
        400,
        `Invalid request: ${parsed.message}`,
        'invalid_request_error',
        'invalid_request',
      );
    const chat = parsed.value;
    let reply: Reply = decideReply(chat);
    if (reply.kind === 'structured' && state.takeInvalidStructured()) {
      reply = { ...reply, rule: `${reply.rule}+fault`, content: INVALID_STRUCTURED };
    }
    const meta = completionMeta(chat, Math.floor(Date.now() / 1000));
    const usage = usageFor(chat, reply);
    state.countCompletion(chat.model, reply.kind === 'tool_calls' ? reply.toolCalls.length : 0);
    if (chat.stream) {
      await streamReply(res, meta, reply, usage, {
        includeUsage: chat.stream_options?.include_usage === true,
        tokenLatencyMs: latency,
      });
    } else {
      if (latency > 0) await new Promise((r) => setTimeout(r, latency * pacedTokens(reply)));
      if (!res.destroyed) sendJson(res, 200, completionBody(meta, reply, usage));
    }
    return `model=${chat.model} rule=${reply.rule}${chat.stream ? ' stream' : ''}`;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const wrongMethod = (): never => {
      throw new HttpError(
        405,
        `Method ${method} not allowed for ${path}.`,
        'invalid_request_error',
        'method_not_allowed',
      );
    };
    if (path === '/stats') {
      if (method !== 'GET') wrongMethod();
      sendJson(res, 200, { ...state.snapshot(), faults: state.faults() });
      return '';
    }
    if (path === '/stats/reset') {
      if (method !== 'POST') wrongMethod();
      state.reset();
      sendJson(res, 200, state.snapshot());
      return '';
    }
    if (path === '/faults') {
      if (method === 'POST') {
        const parsed = parseFaults(await readJson(req));
        if (!parsed.ok)
          throw new HttpError(
            400,
            `Invalid faults: ${parsed.message}`,
            'invalid_request_error',
            'invalid_request',
          );
        state.inject(parsed.value);
      } else if (method !== 'GET') wrongMethod();
      sendJson(res, 200, state.faults());
      return '';
    }
    state.countRequest();
    const api = path.replace(/^\/v1(?=\/)/, '');
    if (api === '/chat/completions') {
      if (method !== 'POST') wrongMethod();
      return chatCompletions(req, res);
    }
    if (api === '/models') {
      if (method !== 'GET') wrongMethod();
      sendJson(res, 200, { object: 'list', data: MODEL_IDS.map(modelObject) });
      return '';
    }
    const model = /^\/models\/(.+)$/.exec(api);
    if (model && method === 'GET') {
      sendJson(res, 200, modelObject(decodeURIComponent(model[1])));
      return '';
    }
    throw new HttpError(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', 'unknown_url');
  }

  const server = createServer((req, res) => {
    route(req, res).then(
      (note) => log(`${req.method} ${req.url} ${res.statusCode}${note ? ' ' + note : ''}`),
      (err: unknown) => {
        const e =
          err instanceof HttpError
            ? err
            : new HttpError(500, `Offline model error: ${String(err)}`, 'server_error', null);
        if (!res.headersSent) sendJson(res, e.status, errorBody(e));
        else res.destroy();
        log(`${req.method} ${req.url} ${e.status} ${e.code ?? ''} ${e.message}`);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/v1`,
    stats: () => state.snapshot(),
    resetStats: () => state.reset(),
    injectFaults: (f) => state.inject(f),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const modelObject = (id: string): Record<string, unknown> => ({
  id,
  object: 'model',
  created: 0,
  owned_by: 'parley-offline',
});
