import type { z } from 'zod';
import { ErrorBody } from '@parley/contracts/http/api.schemas';
import { ROUTES, type RouteName } from '@parley/contracts/http/routes';
import { ParleyApiError, ParleyContractError } from './errors';

type Route<N extends RouteName> = (typeof ROUTES)[N];
type Answers<N extends RouteName> = Route<N>['responses'];
/** What a route answers on success (its first documented status). */
export type Answer<N extends RouteName> = {
  [S in keyof Answers<N>]: Answers<N>[S] extends { schema: infer T extends z.ZodType } ? z.infer<T> : never;
}[keyof Answers<N>];

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Send the body as this content type, verbatim (NDJSON imports). */
  rawBody?: { contentType: string; text: string };
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
    let body: string | undefined;
    if (options.rawBody) {
      headers['content-type'] = options.rawBody.contentType;
      body = options.rawBody.text;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const response = await this.fetch(this.url(name, options), {
      method: route.method.toUpperCase(),
      headers,
      body,
    });
    if (!response.ok && !(name === 'health' && response.status === 503)) throw await apiError(response);
    return response;
  }

  /** Call a JSON route and parse its answer with the route's schema. */
  async call<N extends RouteName>(name: N, options: CallOptions = {}): Promise<Answer<N>> {
    const response = await this.response(name, options);
    const answers = ROUTES[name].responses as Record<number, { schema?: z.ZodType }>;
    const schema = answers[response.status]?.schema;
    const json: unknown = await response.json();
    if (!schema) return json as Answer<N>;
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ParleyContractError(
        name,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return parsed.data as Answer<N>;
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
