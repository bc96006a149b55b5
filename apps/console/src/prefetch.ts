/**
 * The first requests of a page load, sent before the app's code is evaluated: `GET /api/me` always,
 * and the first page of the runs list when the route is the runs list. The entry module (main.tsx)
 * calls `prefetchFirstRequests` and only then loads the app, whose schemas and React take a while
 * to evaluate; by the time the app asks for the same URL with the same token, the answer is there.
 *
 * This is a cache in front of the typed client's fetch (`prefetchingFetch` is the client's `fetch`),
 * not a second HTTP path: the client still builds the request and parses the answer with its schema.
 * An answer is handed out once, to a GET of the same URL with the same token, within `FRESH_MS`;
 * otherwise the client fetches as usual. No import here: this module is evaluated first.
 */

/** sessionStorage key of the signed-in token (api.ts reads and writes it too). */
export const TOKEN_KEY = 'parley.token';

/** The runs list's first page, as the Runs page asks for it (`runsPage({ limit: RUNS_PAGE })`). */
export const RUNS_PAGE = 50;

/** A prefetched answer not taken within this long is dropped (the app fetches afresh). */
const FRESH_MS = 10_000;

interface Prefetched {
  token: string;
  answer: Promise<Response>;
  /** Date.now() when it was sent. */
  at: number;
}

const pending = new Map<string, Prefetched>();

/** The paths prefetched for a route (the URL's hash): the runs list is `#/runs`, `#/` or no hash. */
export function prefetchPaths(hash: string): string[] {
  const route = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const runsList = route.length === 0 || (route[0] === 'runs' && route.length === 1);
  return ['/api/me', ...(runsList ? [`/api/runs?limit=${RUNS_PAGE}`] : [])];
}

/** Send the first requests of this page load, when a token is kept in this tab. */
export function prefetchFirstRequests(
  origin: string,
  hash: string,
  token: string | null,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): void {
  if (!token) return;
  for (const path of prefetchPaths(hash)) {
    const url = `${origin}${path}`;
    const answer = fetchImpl(url, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    answer.catch(() => undefined); // a failure is the client's to report, when it takes the answer
    pending.set(url, { token, answer, at: Date.now() });
  }
}

function header(init: RequestInit | undefined, name: string): string | undefined {
  const headers = init?.headers;
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (Array.isArray(headers)) return headers.find(([k]) => k.toLowerCase() === name)?.[1];
  return Object.entries(headers as Record<string, string>).find(([k]) => k.toLowerCase() === name)?.[1];
}

/** The client's fetch: a prefetched answer for the same GET (same URL, same token), once; else fetch. */
export function prefetchingFetch(
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
): (input: Parameters<typeof fetch>[0], init?: RequestInit) => Promise<Response> {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const hit = pending.get(url);
    if (hit && (init?.method ?? 'GET').toUpperCase() === 'GET') {
      pending.delete(url);
      const fresh = Date.now() - hit.at <= FRESH_MS;
      if (fresh && header(init, 'authorization') === `Bearer ${hit.token}`) return hit.answer;
    }
    return fetchImpl(input, init);
  };
}
