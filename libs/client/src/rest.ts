import type { z } from 'zod';
import { ErrorBody } from '@parley/contracts/http/api.schemas';
import { ROUTES, type RouteName } from '@parley/contracts/http/routes';
import { ParleyApiError, ParleyConnectionError, ParleyContractError, connectionReason } from './errors';

type Route<N extends RouteName> = (typeof ROUTES)[N];
type Answers<N extends RouteName> = Route<N>['responses'];
/** What a route answers on success (its first documented status). */
export type Answer<N extends RouteName> = {
  [S in keyof Answers<N>]: Answers<N>[S] extends { schema: infer T extends z.ZodType } ? z.infer<T> : never;
}[keyof Answers<N>];

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Send the body as this content type, verbatim (NDJSON imports): a string, bytes or a stream. */
  rawBody?: { contentType: string; text: string | Uint8Array | ReadableStream<Uint8Array> };
  headers?: Record<string, string>;
}

export interface RestOptions {
  baseUrl: string;
  token?: string;
  /** A fetch implementation (default: the global one; Node 18+ and browsers have it). */
  fetch?: typeof fetch;
}

/** One REST call described by the route table: path, method and answer schema from the contracts. */
export class Rest {
  private readonly fetch: typeof fetch;
  constructor(readonly options: RestOptions) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  url(name: RouteName, options: CallOptions = {}): string {
    const path = ROUTES[name].path.replace(/\{(\w+)\}/g, (_, key: string) => {
      const value = options.params?.[key];
      if (value === undefined) throw new TypeError(`${name}: the path parameter ${key} is missing`);
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) query.set(key, String(value));
    const qs = query.toString();
    return `${this.options.baseUrl.replace(/\/$/, '')}${path}${qs ? `?${qs}` : ''}`;
  }

  async response(name: RouteName, options: CallOptions = {}): Promise<Response> {
    const route = ROUTES[name];
    const headers: Record<string, string> = { ...options.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (options.rawBody) {
      headers['content-type'] = options.rawBody.contentType;
      body = options.rawBody.text;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    // (bytes are a valid body everywhere; the DOM's typing of BodyInit is narrower than Node's)
    const init: RequestInit & { duplex?: 'half' } = {
      method: route.method.toUpperCase(),
      headers,
      body: body as RequestInit['body'],
    };
    if (body instanceof ReadableStream) init.duplex = 'half'; // a streamed upload (fetch requires it)
    let response: Response;
    try {
      response = await this.fetch(this.url(name, options), init);
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error;
      throw new ParleyConnectionError(this.options.baseUrl, connectionReason(error));
    }
    if (!response.ok && !(name === 'health' && response.status === 503)) throw await apiError(response);
    return response;
  }

  /** Call a JSON route and parse its answer with the route's schema. */
  async call<N extends RouteName>(name: N, options: CallOptions = {}): Promise<Answer<N>> {
    const response = await this.response(name, options);
    const answers = ROUTES[name].responses as Record<number, { schema?: z.ZodType }>;
    const schema = answers[response.status]?.schema;
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      throw new ParleyContractError(name, `HTTP ${response.status} with a body that is not JSON`);
    }
    if (!schema) return json as Answer<N>;
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ParleyContractError(
        name,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return parsed.data as Answer<N>;
  }

  /** Call a route that answers a stream (a large NDJSON export): the body, unread. */
  async stream(name: RouteName, options: CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const response = await this.response(name, options);
    if (!response.body) throw new ParleyContractError(name, 'the answer has no body');
    return response.body;
  }

  /** Call a route that answers text (NDJSON exports, metrics). */
  async text(name: RouteName, options: CallOptions = {}): Promise<string> {
    return (await this.response(name, options)).text();
  }
}

async function apiError(response: Response): Promise<ParleyApiError> {
  const text = await response.text();
  try {
    const { error } = ErrorBody.parse(JSON.parse(text));
    return new ParleyApiError(response.status, error.code, error.message, error.field, error.details);
  } catch {
    return new ParleyApiError(response.status, 'HTTP.ERROR', text.slice(0, 200) || response.statusText);
  }
}
