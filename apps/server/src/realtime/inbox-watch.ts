import { inboxKey, type InboxCounts, type RequestSummaryPayload as RequestSummary } from '@parley/contracts';
import { countRequest, countedAs, requestMatches, type RequestsQuery } from '../projections/requests-query';

/** What the gateway keeps of a connection's inbox watch. */
export interface InboxWatchState {
  /** The roles and the query of the watch, as compared for a page after the first (`cursor`). */
  key: string;
  roles?: string[];
  /** The filters and the order (open requests; no page). */
  query: Omit<RequestsQuery, 'cursor' | 'limit' | 'status'>;
  /** The requests on the pages the watcher was sent (and changes since brought in). */
  shown: Set<string>;
  /** The place of the last run on those pages; absent: every matching request was sent. */
  boundary?: string;
  /** How many match the query now, and the counts, as last sent. */
  total: number;
  counts: InboxCounts;
}

/** One `inbox:changed` to send (its seq, total and counts are added when it is sent). */
export interface InboxPush {
  request?: RequestSummary;
  listed?: boolean;
}

/**
 * What a request's change means for one watcher, and the watch brought up to date: the request
 * (listed or not) when it is on the watcher's pages or comes onto them (with the other matching
 * requests of its run: a run is shown whole), else, when the total or the counts moved, a push of
 * those alone, else nothing. `before` is the request's state before the change (none: it opened).
 */
export function inboxPushes(
  watch: InboxWatchState,
  request: RequestSummary,
  before: RequestSummary | undefined,
  context: { me: string; ofRun: (runId: string) => readonly RequestSummary[] },
): InboxPush[] {
  const { me } = context;
  const matches = (r: RequestSummary | undefined): boolean =>
    r?.status === 'open' && requestMatches(watch.query, r, me);
  let moved = false;
  if (countedAs(before, me) !== countedAs(request, me)) {
    if (before?.status === 'open') countRequest(watch.counts, before, me, -1);
    if (request.status === 'open') countRequest(watch.counts, request, me, 1);
    moved = true;
  }
  const was = matches(before);
  const is = matches(request);
  if (was !== is) {
    watch.total += is ? 1 : -1;
    moved = true;
  }

  const pushes: InboxPush[] = [];
  if (watch.shown.has(request.id)) {
    if (!is) watch.shown.delete(request.id);
    pushes.push({ request, listed: is });
  } else if (is) {
    const run = context.ofRun(request.runId);
    const sort = watch.query.sort ?? 'deadline';
    const onPage =
      watch.boundary === undefined ||
      inboxKey(request, sort) <= watch.boundary ||
      run.some((r) => r !== request && watch.shown.has(r.id));
    if (onPage) {
      for (const r of [request, ...run.filter((r) => r !== request)]) {
        if (watch.shown.has(r.id) || !matches(r)) continue;
        watch.shown.add(r.id);
        pushes.push({ request: r, listed: true });
      }
    }
  }
  if (pushes.length === 0 && moved) pushes.push({});
  return pushes;
}

export function copyCounts(counts: InboxCounts): InboxCounts {
  return {
    all: counts.all,
    kinds: { ...counts.kinds },
    workflows: { ...counts.workflows },
    roles: { ...counts.roles },
    mine: counts.mine,
  };
}
