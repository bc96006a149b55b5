import { useEffect, useMemo, useState } from 'react';
import { api, type AuditAnswer, type Me, type RunEvent, type RunStateAnswer, type VerifyAnswer } from './api';
import { ErrorText, RequestCard, StatusBadge, Transcript } from './components';
import { ForkHere } from './replay/ForkHere';
import { stateDiff } from './replay/state-diff';
import { StateTree } from './replay/StateTree';
import { runActions } from './run/run-actions';
import { startedWorkflow, statusOf } from './run/run-events';

type RunAction = AuditAnswer['actions'][number];
type AuditEntry = AuditAnswer['requests'][number];

function describeAction(a: RunAction): string {
  if (a.type === 'run.started')
    return a.forkOf ? `forked it from ${a.forkOf.runId} at event ${a.forkOf.atSeq}` : 'started the run';
  if (a.type === 'handoff.overridden') return `re-routed it to ${a.to}`;
  if (a.type === 'human-request.claimed') return `claimed request ${a.requestId}`;
  if (a.type === 'human-request.released') return `handed request ${a.requestId} back`;
  return (
    {
      'run.cancelled': 'cancelled the run',
      'run.imported': 'imported the run',
      'run.retried': 'retried the run',
    }[a.type] ?? a.type
  );
}

/**
 * A run's timeline: pick an event, see the state as it was then (a tree, what changed since the
 * previous event marked) and fork from it; the chain check; the audit trail.
 */
export function Replay({ runId, me }: { runId: string; me: Me }) {
  const [events, setEvents] = useState<RunEvent[] | null>(null);
  const [at, setAt] = useState<number | null>(null);
  const [state, setState] = useState<RunStateAnswer | null>(null);
  const [previous, setPrevious] = useState<RunStateAnswer | null>(null);
  const [verify, setVerify] = useState<VerifyAnswer | null>(null);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const [actions, setActions] = useState<RunAction[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<string | null>(null);

  useEffect(() => {
    api((parley) => parley.events(runId))
      .then((list) => {
        setEvents(list);
        setAt(list.length ? list[list.length - 1].seq : null);
      })
      .catch((e: Error) => setError(e.message));
    api((parley) => parley.verify(runId))
      .then(setVerify)
      .catch((e: Error) => setError(e.message));
    api((parley) => parley.audit(runId))
      .then((r) => {
        setAudit(r.requests);
        setActions(r.actions);
      })
      .catch((e: Error) => setError(e.message));
  }, [runId]);

  useEffect(() => {
    if (at === null) return;
    let current = true;
    Promise.all([
      api((parley) => parley.runState(runId, at)),
      at > 1 ? api((parley) => parley.runState(runId, at - 1)) : Promise.resolve(null),
    ])
      .then(([s, p]) => {
        if (!current) return;
        setState(s);
        setPrevious(p);
      })
      .catch((e: Error) => current && setError(e.message));
    return () => {
      current = false;
    };
  }, [runId, at]);

  const download = async (): Promise<void> => {
    setDownloadError(null);
    try {
      const ndjson = await api((parley) => parley.exportRun(runId));
      const url = URL.createObjectURL(new Blob([ndjson], { type: 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `parley-${runId}.ndjson`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setDownloadError(`The export could not be downloaded: ${(e as Error).message}`);
    }
  };

  const head = events?.length ? events[events.length - 1].seq : 0;
  const selected = events?.find((e) => e.seq === at);
  const diff = useMemo(
    () => (state ? stateDiff(previous?.state ?? {}, state.state) : null),
    [state, previous],
  );
  const fork = useMemo(() => {
    if (!events) return null;
    const started = events.find((e) => e.type === 'run.started');
    const requestedBy = (started?.data as { requestedBy?: string } | undefined)?.requestedBy ?? '';
    return runActions(startedWorkflow(events), { status: statusOf(events), requestedBy }, me).fork;
  }, [events, me]);

  return (
    <>
      <h1>
        Replay <span className="muted small">run {runId}</span>
      </h1>
      <p>
        <a href={`#/runs/${encodeURIComponent(runId)}`}>Back to the live run</a>
      </p>
      <ErrorText error={error} />
      <div className="card replay-bar">
        <p>
          {verify === null ? (
            <span className="badge">checking the hash chain…</span>
          ) : verify.ok ? (
            <span className="badge chain-ok" data-testid="chain-badge">
              Hash chain verified ({verify.events} events)
            </span>
          ) : (
            <span className="badge chain-broken" data-testid="chain-badge">
              Hash chain broken at event {verify.seq}: {verify.message}
            </span>
          )}
        </p>
        <button type="button" className="secondary" onClick={() => void download()}>
          Download the log (NDJSON)
        </button>
        <ErrorText error={downloadError} />
      </div>
      {events && at !== null && (
        <div className="replay-layout">
          <section aria-labelledby="timeline-h" className="timeline">
            <h2 id="timeline-h">Timeline</h2>
            <label htmlFor="replay-at">
              Event {at} of {head}
            </label>
            <input
              id="replay-at"
              type="range"
              min={1}
              max={head}
              step={1}
              value={at}
              onChange={(e) => setAt(Number(e.target.value))}
              aria-valuetext={selected ? `event ${at}: ${selected.type}` : `event ${at}`}
            />
            <ol className="events" aria-label="Events">
              {events.map((e) => (
                <li key={e.seq}>
                  <button
                    type="button"
                    className="event"
                    aria-current={e.seq === at ? 'step' : undefined}
                    onClick={() => setAt(e.seq)}
                  >
                    <span className="seq">#{e.seq}</span> {e.type}{' '}
                    <span className="muted">
                      {e.actor.kind}:{e.actor.id}
                    </span>
                  </button>
                </li>
              ))}
            </ol>
          </section>
          <section aria-labelledby="state-h" className="state">
            <h2 id="state-h">The run at event {state?.at ?? at}</h2>
            {state ? (
              <>
                <p>
                  Status: <StatusBadge status={state.state.status} /> · {state.state.transcript.length}{' '}
                  transcript entries ·{' '}
                  <span data-testid="state-pending">{state.state.pendingRequests.length} open requests</span>
                </p>
                {state.state.pendingRequests.map((r) => (
                  <RequestCard key={r.id} request={r} me={null} readOnly />
                ))}
                {fork && <ForkHere runId={runId} atSeq={state.at} allowed={fork} />}
                {diff && (
                  <StateTree
                    state={state.state}
                    diff={diff}
                    previousSeq={state.at > 1 ? state.at - 1 : null}
                  />
                )}
                <Transcript entries={state.state.transcript} label="Transcript at this point" />
              </>
            ) : (
              <p>Loading…</p>
            )}
          </section>
        </div>
      )}
      <section aria-labelledby="actions-h">
        <h2 id="actions-h">Actions on this run</h2>
        {actions === null ? (
          <p>Loading…</p>
        ) : (
          <ul className="actions">
            {actions.map((a) => (
              <li key={`${a.type}-${a.seq}`}>
                <span className="muted">event {a.seq}</span> {a.by.kind}:{a.by.id}
                {a.by.role ? ` (${a.by.role})` : ''} {describeAction(a)}
                {a.note ? `: “${a.note}”` : ''}{' '}
                <span className="muted">at {new Date(a.at).toLocaleString()}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="audit-h">
        <h2 id="audit-h">Audit trail: who decided what</h2>
        {audit === null ? (
          <p>Loading…</p>
        ) : audit.length === 0 ? (
          <p className="muted">No human request in this run.</p>
        ) : (
          <table className="audit">
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Decisions</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {audit.map((a) => (
                <tr key={a.requestId}>
                  <td data-label="Request">
                    <strong>{a.title}</strong>{' '}
                    <span className="muted">
                      ({a.kind}, event {a.opened.seq}, for {a.roles.join(', ')})
                    </span>
                  </td>
                  <td data-label="Decisions">
                    {a.decisions.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      <ul>
                        {a.decisions.map((d) => (
                          <li key={d.seq}>
                            {d.by.id} ({d.by.role}) chose <strong>{d.decision}</strong>
                            {d.comment ? `: “${d.comment}”` : ''}{' '}
                            <span className="muted">at {new Date(d.at).toLocaleString()}</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td data-label="Outcome">
                    {a.outcome ? `${a.outcome.status}: ${a.outcome.outcome}` : 'open'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
