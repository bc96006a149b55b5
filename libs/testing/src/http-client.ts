import { openApiViolation } from './openapi-check';
import { waitFor } from './wait-for';

/** A small JSON client over real HTTP (global fetch). */
export interface HttpAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  as(token: string | undefined): HttpClient {
    return new HttpClient(this.baseUrl, token);
  }

  get<T = any>(path: string, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    return this.send('GET', path, undefined, headers);
  }

  post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    return this.send('POST', path, body, headers);
  }

  async send<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<HttpAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('application/json'))
      parsed = text ? JSON.parse(text) : undefined;
    // Every answer a test receives is checked against the OpenAPI document.
    const violation = openApiViolation(
      method,
      path,
      response.status,
      response.headers.get('content-type') ?? '',
      parsed,
    );
    if (violation) throw new Error(violation);
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
}

/** Poll `GET /api/runs/:runId` until the run's status is one of `statuses`; returns the run. */
export async function runInStatus(api: HttpClient, runId: string, ...statuses: string[]): Promise<any> {
  return waitFor(`run ${runId} ${statuses.join('/')}`, async () => {
    const run = (await api.get(`/api/runs/${runId}`)).body;
    return statuses.includes(run.status) ? run : undefined;
  });
}

/**
 * Every open request `api`'s user may act on, page after page of `GET /api/requests` (the inbox is
 * paged: 50 a page unless `limit` says otherwise, at most 500).
 */
export async function allOpenRequests<T = { id: string; runId: string; kind: string }>(
  api: HttpClient,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const answer = await api.get(
      `/api/requests?status=open&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (answer.status !== 200)
      throw new Error(`GET /api/requests: ${answer.status} ${JSON.stringify(answer.body)}`);
    all.push(...(answer.body.requests as T[]));
    cursor = answer.body.nextCursor;
  } while (cursor);
  return all;
}
