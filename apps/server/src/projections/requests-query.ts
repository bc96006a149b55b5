import {
  REQUESTS_PAGE_DEFAULT,
  ValidationError,
  inboxKey,
  type InboxCounts,
  type InboxSort,
  type RequestSummaryPayload as RequestSummary,
} from '@parley/contracts';

/** The inbox's query as the read model takes it (the parsed `ListRequestsQuery` / `inbox:watch`). */
export interface RequestsQuery {
  status?: 'open' | 'resolved' | 'expired' | 'closed';
  kind?: string;
  role?: string;
  workflow?: string;
  runId?: string;
  mine?: boolean;
  expiringBefore?: string;
  q?: string;
  sort?: InboxSort;
  limit?: number;
  cursor?: string;
}

/** A request and its place in one order. */
export interface Keyed {
  key: string;
  request: RequestSummary;
}

/** Does the request pass the query's filters and search (not its status nor whose it is)? */
export function requestMatches(query: RequestsQuery, r: RequestSummary, me: string): boolean {
  if (query.kind && r.kind !== query.kind) return false;
  if (query.role && !r.roles.includes(query.role)) return false;
  if (query.workflow && r.workflow !== query.workflow) return false;
  if (query.runId && r.runId !== query.runId) return false;
  if (query.mine && r.claimedBy !== me) return false;
  if (query.expiringBefore !== undefined) {
    if (r.deadline === null || Date.parse(r.deadline) >= Date.parse(query.expiringBefore)) return false;
  }
  const q = query.q?.trim().toLowerCase();
  if (q && !searchText(r).includes(q)) return false;
  return true;
}

/** What a search looks in, lower-cased, kept per request until its claimer changes (the rest is fixed). */
const searched = new WeakMap<RequestSummary, { claimedBy?: string; text: string }>();
function searchText(r: RequestSummary): string {
  const kept = searched.get(r);
  if (kept && kept.claimedBy === r.claimedBy) return kept.text;
  // one string, the fields apart, so that a search never matches across two of them
  const text = [r.title, r.ask, r.kind, r.runId, r.id, r.workflow, r.claimedBy ?? '']
    .join('\u0000')
    .toLowerCase();
  searched.set(r, { claimedBy: r.claimedBy, text });
  return text;
}

export function emptyCounts(): InboxCounts {
  return { all: 0, kinds: {}, workflows: {}, roles: {}, mine: 0 };
}

/** Count a request in (by = 1) or out of (by = -1) the counts; a count that falls to 0 goes. */
export function countRequest(counts: InboxCounts, r: RequestSummary, me: string, by: 1 | -1): void {
  const bump = (into: Record<string, number>, key: string): void => {
    const n = (into[key] ?? 0) + by;
    if (n === 0) delete into[key];
    else into[key] = n;
  };
  counts.all += by;
  bump(counts.kinds, r.kind);
  bump(counts.workflows, r.workflow);
  for (const role of new Set(r.roles)) bump(counts.roles, role);
  if (r.claimedBy === me) counts.mine += by;
}

/** What of a request the counts read: two states with the same one count alike. */
export function countedAs(r: RequestSummary | undefined, me: string): string {
  if (!r || r.status !== 'open') return '';
  return JSON.stringify([r.kind, r.workflow, r.roles, r.claimedBy === me]);
}

export function encodeCursor(sort: InboxSort, key: string): string {
  return Buffer.from(`${sort}\u0000${key}`, 'utf8').toString('base64url');
}

/** The key a cursor names, or a 400 naming `cursor`. */
export function decodeCursor(cursor: string, sort: InboxSort): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const at = text.indexOf('\u0000');
  const parts = at < 0 ? [] : text.slice(at + 1).split('\u0000');
  if (at < 0 || parts.length !== (text.slice(0, at) === 'deadline' ? 3 : 2) || parts.some((p) => !p))
    throw new ValidationError('REQUEST.INVALID_QUERY', 'cursor is not one this server gave', 'cursor');
  if (text.slice(0, at) !== sort)
    throw new ValidationError(
      'REQUEST.INVALID_QUERY',
      `cursor is of a page in ${text.slice(0, at)} order, not ${sort}: ask again without it`,
      'cursor',
    );
  return text.slice(at + 1);
}

/** The first index of `ordered` whose key is greater than `key` (`ordered` is sorted by key). */
export function indexAfter(ordered: readonly Keyed[], key: string): number {
  let lo = 0;
  let hi = ordered.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ordered[mid].key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface RequestsPageResult {
  requests: RequestSummary[];
  total: number;
  counts: InboxCounts;
  nextCursor?: string;
  /** The key of the page's last run (of its first request): what a watcher of this page covers up to. */
  lastKey?: string;
}

/**
 * One page of the requests of `ordered` (all of one status, sorted by the query's order) that are
 * `inScope` (whose they are) and match the query: whole runs, each where its first matching request
 * is, until `limit` requests; with the number matching, the counts of those in scope, and the cursor
 * of the next page. `ofRun` gives a run's requests (any status, any order).
 */
export function pageRequests(
  ordered: readonly Keyed[],
  query: RequestsQuery,
  context: {
    me: string;
    inScope: (r: RequestSummary) => boolean;
    ofRun: (runId: string) => readonly RequestSummary[];
  },
): RequestsPageResult {
  const sort = query.sort ?? 'deadline';
  const limit = query.limit ?? REQUESTS_PAGE_DEFAULT;
  const { me, inScope } = context;
  const status = query.status ?? 'open';
  const matches = (r: RequestSummary): boolean =>
    r.status === status && inScope(r) && requestMatches(query, r, me);

  const counts = emptyCounts();
  let total = 0;
  for (const { request } of ordered) {
    if (request.status !== status || !inScope(request)) continue;
    countRequest(counts, request, me, 1);
    if (requestMatches(query, request, me)) total++;
  }

  // a run's matching requests in order; the first of them leads its group
  const groupOf = (runId: string): Keyed[] =>
    context
      .ofRun(runId)
      .filter(matches)
      .map((request) => ({ request, key: inboxKey(request, sort) }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  const start = query.cursor ? indexAfter(ordered, decodeCursor(query.cursor, sort)) : 0;
  const requests: RequestSummary[] = [];
  let lastKey: string | undefined;
  let more = false;
  for (let i = start; i < ordered.length; i++) {
    const { request, key } = ordered[i];
    if (!matches(request)) continue;
    const group = groupOf(request.runId);
    if (group[0]?.key !== key) continue; // not the first of its run: shown with it
    if (requests.length > 0 && requests.length + group.length > limit) {
      more = true;
      break;
    }
    for (const g of group) requests.push(g.request);
    lastKey = key;
  }
  return {
    requests,
    total,
    counts,
    ...(more && lastKey !== undefined ? { nextCursor: encodeCursor(sort, lastKey), lastKey } : {}),
  };
}
