import { useEffect, useMemo, useRef, useState } from 'react';
import { api, asApiError, client, type Me, type RequestSummary, type RequestView } from '../api';
import { ErrorText, RequestCard, useNow, type RequestActions } from '../components';
import { InboxFilters } from './InboxFilters';
import { InboxList } from './InboxList';
import { NO_FILTER, capGroups, choices, inboxView, type InboxFilter } from './inbox-model';
import { Shortcuts } from './Shortcuts';

const APPROVE = ['approve', 'confirm'];
const REJECT = ['reject', 'decline'];

/**
 * The inbox for people who answer many requests: a compact list (live, grouped by run, filtered,
 * searched, ordered) and the selected request in a detail pane, decided with the mouse or the keys.
 */
export function InboxPage({ me }: { me: Me }) {
  const [requests, setRequests] = useState<RequestSummary[] | null>(null);
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

  useEffect(() => {
    let watch;
    try {
      watch = client().watchInbox({
        onChange: (list, request) => {
          setRequests(list);
          setError(null);
          if (request) setChanged((c) => ({ id: request.id, n: (c?.n ?? 0) + 1 }));
        },
        onError: (e) => setError(asApiError(e).message),
      });
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    return () => watch.close();
  }, []);

  const groups = useMemo(
    () => inboxView(requests ?? [], filter, { me: me.id, now }),
    [requests, filter, me.id, now],
  );
  // at most SHOWN_GROUPS groups are drawn (10,000 rows would not be usable); the keys walk those
  const { shown, hidden } = useMemo(() => capGroups(groups), [groups]);
  const order = useMemo(() => shown.flatMap((g) => g.requests.map((r) => r.id)), [shown]);
  const matching = order.length + hidden;

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

  const all = requests ?? [];
  const runs = useMemo(() => {
    const workflowOf = new Map((requests ?? []).map((r) => [r.runId, r.workflow]));
    return [...workflowOf.keys()].sort().map((runId) => ({
      runId,
      label: `${workflowOf.get(runId)} · ${runId.slice(0, 8)}`,
    }));
  }, [requests]);
  const roles = useMemo(
    () => choices([...(requests ?? []).flatMap((r) => r.roles), ...me.roles]),
    [requests, me.roles],
  );
  const workflows = useMemo(() => choices((requests ?? []).map((r) => r.workflow)), [requests]);

  return (
    <>
      <h1>Inbox</h1>
      <p className="muted">
        Open requests for your roles ({me.roles.join(', ')}), live: a request decided elsewhere leaves at
        once.
      </p>
      <ErrorText error={error} />
      {requests === null ? (
        <p>Loading the inbox…</p>
      ) : all.length === 0 ? (
        <p className="muted">Nothing waits for you.</p>
      ) : (
        <>
          <InboxFilters
            filter={filter}
            onChange={setFilter}
            roles={roles}
            workflows={workflows}
            runs={runs}
            searchRef={searchRef}
          />
          <div className="inbox-bar">
            <p className="small" role="status" data-testid="inbox-count">
              {matching} of {all.length} requests
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
                {hidden > 0 && (
                  <p className="small muted" data-testid="inbox-more">
                    {hidden} more — narrow the filters
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
