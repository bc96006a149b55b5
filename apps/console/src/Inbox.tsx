import { useEffect, useState } from 'react';
import { api, asApiError, client, type Me, type RequestSummary, type RequestView } from './api';
import { ErrorText, RequestCard } from './components';

/** Open requests the user may act on, live (inbox:watch / inbox:changed), with their details. */
export function Inbox({ me }: { me: Me }) {
  const [requests, setRequests] = useState<RequestSummary[] | null>(null);
  const [details, setDetails] = useState<Record<string, RequestView>>({});
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let watch;
    try {
      watch = client().watchInbox({
        onChange: (list, changed) => {
          setRequests(list);
          setError(null);
          // a claim changes the details: fetch them again
          if (changed)
            setDetails((d) => {
              const { [changed.id]: _gone, ...rest } = d;
              return rest;
            });
        },
        onError: (e) => setError(asApiError(e).message),
      });
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    return () => watch.close();
  }, []);

  useEffect(() => {
    for (const r of requests ?? []) {
      if (details[r.id]) continue;
      api((parley) => parley.request(r.id))
        .then((view) => setDetails((d) => ({ ...d, [r.id]: view })))
        .catch((e: Error) => setError(e.message));
    }
  }, [requests, details]);

  const sorted = [...(requests ?? [])].sort(
    (a, b) => (a.deadline ?? '9').localeCompare(b.deadline ?? '9') || b.createdAt.localeCompare(a.createdAt),
  );

  return (
    <>
      <h1>Inbox</h1>
      <p className="muted">
        Open requests for your roles ({me.roles.join(', ')}). A request decided elsewhere leaves this list at
        once.
      </p>
      <ErrorText error={error} />
      {requests === null ? (
        <p>Loading the inbox…</p>
      ) : sorted.length === 0 ? (
        <p className="muted">Nothing waits for you.</p>
      ) : (
        <ul className="inbox" aria-label="Open requests">
          {sorted.map((r) => (
            <li key={r.id}>
              {details[r.id] ? (
                <RequestCard
                  request={{ ...details[r.id], status: r.status }}
                  me={me}
                  onDone={(status) => {
                    if (status === 'resolved')
                      setRequests((prev) => (prev ?? []).filter((x) => x.id !== r.id));
                  }}
                />
              ) : (
                <article className="card request">
                  <h3>{r.title}</h3>
                  <p>{r.ask}</p>
                </article>
              )}
              <p className="small">
                In run <a href={`#/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</a>
              </p>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
