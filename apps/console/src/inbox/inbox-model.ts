import type { InboxQuery } from '@parley/client';
import type { RequestSummaryPayload as RequestSummary } from '@parley/contracts/socket/socket.schemas';

/** The inbox's filters, search and order, as the filter bar holds them (the server applies them). */
export interface InboxFilter {
  kind: string;
  role: string;
  workflow: string;
  runId: string;
  mine: boolean;
  expiring: boolean;
  search: string;
  sort: 'deadline' | 'age';
}

export const NO_FILTER: InboxFilter = {
  kind: '',
  role: '',
  workflow: '',
  runId: '',
  mine: false,
  expiring: false,
  search: '',
  sort: 'deadline',
};

/** "Expiring soon": the deadline is less than this far away. */
export const EXPIRING_SOON_MS = 15 * 60_000;

export interface RunGroup {
  runId: string;
  workflow: string;
  requests: RequestSummary[];
}

/** How many requests a page of the inbox holds (the server pages; "Load more" asks for the next). */
export const PAGE_SIZE = 50;

/**
 * The server's query for the filters (`inbox:watch`): only what is set is sent, so the same
 * filters are the same query. "Expiring soon" is a deadline before `now` + 15 minutes.
 */
export function inboxQuery(filter: InboxFilter, now: number): InboxQuery {
  const search = filter.search.trim();
  return {
    ...(filter.kind ? { kind: filter.kind as InboxQuery['kind'] } : {}),
    ...(filter.role ? { role: filter.role } : {}),
    ...(filter.workflow ? { workflow: filter.workflow } : {}),
    ...(filter.runId ? { runId: filter.runId } : {}),
    ...(filter.mine ? { mine: true } : {}),
    ...(filter.expiring ? { expiringBefore: new Date(now + EXPIRING_SOON_MS).toISOString() } : {}),
    ...(search ? { q: search } : {}),
    sort: filter.sort,
    limit: PAGE_SIZE,
  };
}

/** The server's groups (by run, in order) as the list draws them. */
export function runGroups(groups: ReadonlyArray<{ runId: string; requests: RequestSummary[] }>): RunGroup[] {
  return groups.map((g) => ({
    runId: g.runId,
    workflow: g.requests[0]?.workflow ?? '',
    requests: g.requests,
  }));
}

/** Every value of a field among the requests, sorted (for the filter choices). */
export function choices(values: Iterable<string | undefined>): string[] {
  return [...new Set([...values].filter((v): v is string => Boolean(v)))].sort();
}
