import { useEffect, useState } from 'react';
import { emit, getSocket, http, type Me, type RequestSummary, type RequestView } from './api';
import { ErrorText, RequestCard } from './components';

/** Open requests the user may act on, live (inbox:watch / inbox:changed), with their details. */
export function Inbox({ me }: { me: Me }) {
  const [requests, setRequests] = useState<RequestSummary[] | null>(null);
  const [details, setDetails] = useState<Record<string, RequestView>>({});
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let socket;
    try {
      socket = getSocket();
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    const watch = (): void => {
      emit('inbox:watch', {})
        .then((ack) => {
          setRequests(ack.requests);
          setError(null);
        })
        .catch((e: Error) => setError(e.message));
    };
    const onChanged = ({ request }: { request: RequestSummary }): void => {
      setRequests((prev) => {
        const rest = (prev ?? []).filter((r) => r.id !== request.id);
        return request.status === 'open' ? [request, ...rest] : rest;
      });
      // a claim changes the details: fetch them again
      setDetails((d) => {
        const { [request.id]: _gone, ...rest } = d;
        return rest;
      });
    };
    socket.on('connect', watch);
    socket.on('inbox:changed', onChanged);
    if (socket.connected) watch();
    return () => {
      socket.off('connect', watch);
      socket.off('inbox:changed', onChanged);
      if (socket.connected) socket.emit('inbox:unwatch', {}, () => undefined);
    };
  }, []);

  useEffect(() => {
    for (const r of requests ?? []) {
      if (details[r.id]) continue;
      http<RequestView>(`/api/requests/${encodeURIComponent(r.id)}`)
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
