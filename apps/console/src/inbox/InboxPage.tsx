import { useEffect, useMemo, useRef, useState } from 'react';
import type { InboxQuery, InboxState, InboxWatch } from '@parley/client';
import { api, asApiError, client, type Me, type RequestView } from '../api';
import { ErrorText, RequestCard, useNow, type RequestActions } from '../components';
import { InboxFilters } from './InboxFilters';
import { InboxList } from './InboxList';
import { NO_FILTER, PAGE_SIZE, choices, inboxQuery, runGroups, type InboxFilter } from './inbox-model';
import { Shortcuts } from './Shortcuts';

/** Typing in the search waits this long before the server is asked again. */
const SEARCH_PAUSE_MS = 200;

const APPROVE = ['approve', 'confirm'];
const REJECT = ['reject', 'decline'];

/**
 * The inbox for people who answer many requests: a compact list (live, grouped by run, filtered,
 * searched, ordered and paged by the server: `inbox:watch`) and the selected request in a detail
 * pane, decided with the mouse or the keys.
 */
export function InboxPage({ me }: { me: Me }) {
  const [inbox, setInbox] = useState<InboxState | null>(null);
  const [changed, setChanged] = useState<{ id: string; n: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState<InboxFilter>(NO_FILTER);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [detail, setDetail] = useState<RequestView | null>(null);
  const [help, setHelp] = useState(false);
  const lastIndex = useRef(0);
  const actions = useRef<RequestActions>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const now = useNow(15_000);

  // the search is sent once typing pauses; the other filters at once
  const [search, setSearch] = useState(filter.search);
  useEffect(() => {
    if (filter.search === search) return;
    const t = setTimeout(() => setSearch(filter.search), SEARCH_PAUSE_MS);
    return () => clearTimeout(t);
  }, [filter.search, search]);
  // the same filters are the same query (one object while they stay); "expiring soon" is measured
  // from now, so while it is on the query moves with the clock (every 15 s)
  const queryKey = JSON.stringify(inboxQuery({ ...filter, search }, filter.expiring ? now : 0));
  const query = useMemo(() => JSON.parse(queryKey) as InboxQuery, [queryKey]);

  const watchRef = useRef<InboxWatch | null>(null);
  const firstQuery = useRef(query);
  useEffect(() => {
    let watch: InboxWatch;
    try {
      watch = client().watchInbox({
        query: firstQuery.current,
        onChange: (state, request) => {
          setInbox(state);
          setError(null);
          if (request) setChanged((c) => ({ id: request.id, n: (c?.n ?? 0) + 1 }));
        },
        onError: (e) => setError(asApiError(e).message),
      });
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    watchRef.current = watch;
    return () => {
      watchRef.current = null;
      watch.close();
    };
  }, []);
  useEffect(() => {
    if (query !== firstQuery.current) watchRef.current?.setQuery(query);
  }, [query]);

  const shown = useMemo(() => runGroups(inbox?.groups ?? []), [inbox]);
  const order = useMemo(() => (inbox?.requests ?? []).map((r) => r.id), [inbox]);
  const total = inbox?.total ?? 0;
  const hidden = Math.max(0, total - order.length);
  // requests decided here or elsewhere leave the list: when half a page is left, the next comes
  useEffect(() => {
    if (inbox?.hasMore && inbox.requests.length < PAGE_SIZE / 2) watchRef.current?.more();
  }, [inbox]);

  // the selection stays on its request; when that one leaves, on the request that took its place
  const selected =
    selectedId !== null && order.includes(selectedId)
      ? selectedId
      : (order[Math.min(lastIndex.current, order.length - 1)] ?? null);
  useEffect(() => {
    if (selected !== selectedId) setSelectedId(selected);
    if (selected) lastIndex.current = order.indexOf(selected);
  }, [selected, selectedId, order]);

  // the detail of the selected request, read again when it changes (claimed, edited by another)
  const changedSelected = changed?.id === selected ? changed.n : 0;
  useEffect(() => {
    if (!selected) return setDetail(null);
    let current = true;
    api((parley) => parley.request(selected))
      .then((view) => current && setDetail({ ...view }))
      .catch((e: Error) => current && setError(e.message));
    return () => {
      current = false;
    };
  }, [selected, changedSelected]);

  const move = (by: number): void => {
    if (order.length === 0) return;
    const at = selected ? order.indexOf(selected) : -1;
    // past the last request loaded: the next page comes
    if (by > 0 && at + by >= order.length && inbox?.hasMore) watchRef.current?.more();
    const next = order[Math.max(0, Math.min(order.length - 1, at + by))];
    setSelectedId(next);
    document.getElementById(`opt-${next}`)?.scrollIntoView({ block: 'nearest' });
  };

  const keys = useRef<(e: KeyboardEvent) => void>(() => undefined);
  keys.current = (e: KeyboardEvent): void => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target as HTMLElement;
    if (target.closest('input, textarea, select, [contenteditable="true"]')) {
      if (e.key === 'Escape') target.blur();
      return;
    }
    const shown = detail && detail.id === selected ? detail : null;
    const pick = (among: string[]): string | undefined => shown?.decisions.find((d) => among.includes(d));
    const handlers: Record<string, () => void> = {
      j: () => move(1),
      ArrowDown: () => move(1),
      k: () => move(-1),
      ArrowUp: () => move(-1),
      a: () => {
        const d = pick(APPROVE);
        if (d) actions.current?.decide(d);
      },
      r: () => {
        const d = pick(REJECT);
        if (d) actions.current?.decide(d);
      },
      e: () => actions.current?.edit(),
      c: () => actions.current?.claim(),
      h: () => actions.current?.release(),
      '/': () => searchRef.current?.focus(),
      '?': () => setHelp((h) => !h),
    };
    const handler = handlers[e.key];
    if (!handler) return;
    e.preventDefault();
    handler();
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => keys.current(e);
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const counts = inbox?.counts;
  const runs = useMemo(() => {
    const workflowOf = new Map((inbox?.requests ?? []).map((r) => [r.runId, r.workflow]));
    if (filter.runId && !workflowOf.has(filter.runId)) workflowOf.set(filter.runId, 'run');
    return [...workflowOf.keys()].sort().map((runId) => ({
      runId,
      label: `${workflowOf.get(runId)} · ${runId.slice(0, 8)}`,
    }));
  }, [inbox, filter.runId]);
  const roles = useMemo(
    () => choices([...Object.keys(counts?.roles ?? {}), ...me.roles, filter.role]),
    [counts, me.roles, filter.role],
  );
  const workflows = useMemo(
    () => choices([...Object.keys(counts?.workflows ?? {}), filter.workflow]),
    [counts, filter.workflow],
  );

  return (
    <>
      <h1>Inbox</h1>
      <p className="muted">
        Open requests for your roles ({me.roles.join(', ')}), live: a request decided elsewhere leaves at
        once.
      </p>
      <ErrorText error={error} />
      {inbox === null ? (
        <p>Loading the inbox…</p>
      ) : inbox.counts.all === 0 && inbox.requests.length === 0 ? (
        <p className="muted">Nothing waits for you.</p>
      ) : (
        <>
          <InboxFilters
            filter={filter}
            onChange={setFilter}
            roles={roles}
            workflows={workflows}
            counts={inbox.counts}
            runs={runs}
            searchRef={searchRef}
          />
          <div className="inbox-bar">
            <p className="small" role="status" data-testid="inbox-count">
              {total} of {inbox.counts.all} requests
            </p>
            <Shortcuts open={help} onToggle={setHelp} />
          </div>
          <div className="inbox-layout">
            {order.length === 0 ? (
              <p className="muted">
                No request matches these filters.{' '}
                <button type="button" className="secondary" onClick={() => setFilter(NO_FILTER)}>
                  Clear the filters
                </button>
              </p>
            ) : (
              <div className="inbox-list-wrap">
                <InboxList groups={shown} selectedId={selected} onSelect={setSelectedId} me={me.id} />
                {inbox.hasMore && (
                  <p className="small muted" data-testid="inbox-more">
                    {hidden} more{' '}
                    <button type="button" className="secondary" onClick={() => watchRef.current?.more()}>
                      Load more
                    </button>
                  </p>
                )}
              </div>
            )}
            <section className="inbox-detail" aria-label="Request detail">
              {detail && detail.id === selected ? (
                <>
                  <RequestCard key={detail.id} request={detail} me={me} headingLevel={2} actions={actions} />
                  {detail.runId && (
                    <p className="small">
                      In run <a href={`#/runs/${encodeURIComponent(detail.runId)}`}>{detail.runId}</a>
                    </p>
                  )}
                </>
              ) : selected ? (
                <p className="muted">Loading the request…</p>
              ) : null}
            </section>
          </div>
        </>
      )}
    </>
  );
}
