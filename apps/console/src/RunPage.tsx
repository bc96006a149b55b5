import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { HandoffBody, MessageBody } from '@parley/contracts/http/api.schemas';
import {
  api,
  asApiError,
  client,
  hasRole,
  issueSentence,
  type Me,
  type RunEvent,
  type RunToken,
  type RunView,
} from './api';
import { ErrorText, RequestCard, StatusBadge, Transcript, useNow } from './components';
import { nextSpeaker } from './next-speaker';
import { useAction } from './use-action';
import { MagenticPlanView } from './run/MagenticPlanView';
import { PatternGraphView } from './run/PatternGraphView';
import { RunActions } from './run/RunActions';
import { runModel } from './run/run-model';
import { TimelineView } from './run/TimelineView';
import { ToolCallCards } from './run/ToolCallCards';
import { TriageView } from './run/TriageView';

const ENDED = new Set(['completed', 'failed', 'cancelled']);
const ended = (run: RunView | null): boolean => run !== null && ENDED.has(run.status);

interface Streaming {
  agent: string;
  text: string;
  /** the seq of the model-call.completed that ends it, once it arrived */
  doneSeq?: number;
}

/** A run, live: events over the socket (run:watch), tokens while an agent speaks, the view from REST. */
export function RunPage({ runId, me }: { runId: string; me: Me }) {
  const [run, setRun] = useState<RunView | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [streaming, setStreaming] = useState<Streaming | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const inFlight = useRef(false);
  const again = useRef(false);

  const refresh = useCallback(async (): Promise<void> => {
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    try {
      do {
        again.current = false;
        const view = await api((parley) => parley.getRun(runId));
        setRun(view);
        setError(null);
        setStreaming((s) => (s?.doneSeq !== undefined && view.seq >= s.doneSeq ? null : s));
      } while (again.current);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      inFlight.current = false;
    }
  }, [runId]);

  useEffect(() => {
    // the watch replays the whole history from seq 1, then goes live
    setEvents([]);
    void refresh();
    const onEvent = (event: RunEvent): void => {
      setEvents((prev) => [...prev, event]);
      const data = event.data as { agent?: string };
      if (event.type === 'model-call.started' && data.agent) {
        setStreaming((s) =>
          s && s.agent === data.agent && s.doneSeq === undefined ? s : { agent: data.agent!, text: '' },
        );
      } else if (
        (event.type === 'model-call.completed' || event.type === 'model-call.failed') &&
        data.agent
      ) {
        setStreaming((s) => (s && s.agent === data.agent ? { ...s, doneSeq: event.seq } : s));
      }
      void refresh();
    };
    const onToken = (token: RunToken): void => {
      setStreaming((s) =>
        s && s.agent === token.agent && s.doneSeq === undefined
          ? { ...s, text: s.text + token.delta }
          : { agent: token.agent, text: token.delta },
      );
    };
    let watch;
    try {
      // every event once, in order, across reconnects (the client resumes after the last seq)
      watch = client().watch(runId, {
        onEvent,
        onToken,
        onLive: () => {
          setLive(true);
          void refresh();
        },
        onConnectionLost: () => setLive(false),
        onError: (e) => setError(asApiError(e).message),
      });
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    return () => watch.close();
  }, [runId, refresh]);

  const now = useNow(ended(run) ? 60_000 : 1000);
  if (!run) {
    return (
      <>
        <h1>Run {runId}</h1>
        {error ? <ErrorText error={error} /> : <p>Loading the run…</p>}
      </>
    );
  }

  const isEnded = ended(run);
  const model = runModel(events, {
    me,
    now,
    status: run.status,
    requestedBy: run.requestedBy,
    ...(run.failure ? { failureCode: run.failure.code } : {}),
  });
  const next = nextSpeaker(run, events);
  const canSpeak = hasRole(me, 'participant') && !isEnded;
  const floorOpen = run.pendingRequests.some(
    (r) => r.kind === 'input' && r.roles.some((role) => hasRole(me, role)),
  );

  return (
    <>
      <h1>
        {run.workflow} <span className="muted small">run {run.runId}</span>
      </h1>
      <div className="run-summary card">
        <p>
          Status: <StatusBadge status={run.status} />{' '}
          {run.pendingRequests.length > 0 && <span className="badge waiting-human">waiting on a human</span>}
        </p>
        <p>
          Pattern: {run.pattern} · started by {run.requestedBy} · {run.seq} events ·{' '}
          <span className={live ? 'live' : 'muted'}>{live ? 'live' : 'connecting…'}</span>
        </p>
        {next && (
          <p>
            Who speaks next:{' '}
            <strong data-testid="next-speaker">
              {next.kind === 'agent' ? next.name : 'a human (the floor is open)'}
            </strong>
          </p>
        )}
        {run.controls.reroute.length > 0 && run.currentAgent && (
          <p>
            Current specialist: <strong data-testid="current-agent">{run.currentAgent}</strong>
          </p>
        )}
        {run.failure && <ErrorText error={`The run failed: ${run.failure.message}`} />}
        <RunActions
          runId={runId}
          lastSeq={events.length > 0 ? events[events.length - 1]!.seq : run.seq}
          actions={model.actions}
          onDone={refresh}
        />
        <p>
          <a href={`#/replay/${encodeURIComponent(run.runId)}`}>Replay and audit this run</a>
        </p>
      </div>
      <ErrorText error={error} />
      {model.graph && <PatternGraphView graph={model.graph} />}
      <TimelineView timeline={model.timeline} />
      <div className="run-layout">
        <div className="run-main">
          <Transcript entries={run.transcript} streaming={streaming && streaming.text ? streaming : null} />
          {model.plan && <MagenticPlanView plan={model.plan} />}
          {model.triage && <TriageView triage={model.triage} />}
          {model.toolCalls.length > 0 && <ToolCallCards calls={model.toolCalls} />}
          {run.controls.speak && canSpeak && <Speak runId={runId} floorOpen={floorOpen} onSent={refresh} />}
          {run.output && isEnded && (
            <section aria-labelledby="output-h">
              <h2 id="output-h">Output</h2>
              <div className="card text">{run.output}</div>
            </section>
          )}
        </div>
        <aside className="run-side" aria-labelledby="pending-h">
          <h2 id="pending-h">Pending requests</h2>
          {run.pendingRequests.length === 0 ? (
            <p className="muted">No request is waiting.</p>
          ) : (
            run.pendingRequests.map((r) => (
              <RequestCard key={r.id} request={r} me={me} onDone={() => void refresh()} />
            ))
          )}
          {run.controls.reroute.length > 0 &&
            !isEnded &&
            (model.reroute.allowed ? (
              <Reroute
                runId={runId}
                agents={run.controls.reroute}
                current={run.currentAgent}
                onDone={refresh}
              />
            ) : (
              hasRole(me, 'participant') && (
                <p className="muted small" data-testid="why-reroute">
                  Re-route: {model.reroute.why}.
                </p>
              )
            ))}
        </aside>
      </div>
    </>
  );
}

function Speak({
  runId,
  floorOpen,
  onSent,
}: {
  runId: string;
  floorOpen: boolean;
  onSent: () => Promise<void>;
}) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    const parsed = MessageBody.safeParse({ text: text.trim() });
    if (!parsed.success) return setError(issueSentence(parsed.error));
    setBusy(true);
    try {
      await api((parley) => parley.postMessage(runId, parsed.data.text));
      setText('');
      await onSent();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="speak-h" className="card">
      <h2 id="speak-h">Speak in the conversation</h2>
      <p className="muted">
        {floorOpen
          ? 'The floor is yours: the conversation waits for you.'
          : 'The next speaker will see your message.'}
      </p>
      <form onSubmit={submit}>
        <label htmlFor="speak-text">Your message</label>
        <textarea id="speak-text" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Sending…' : 'Send message'}
        </button>
      </form>
    </section>
  );
}

function Reroute({
  runId,
  agents,
  current,
  onDone,
}: {
  runId: string;
  /** Whom the run's pattern lets a human hand the conversation to (the run view's `controls`). */
  agents: string[];
  current: string | null;
  onDone: () => Promise<void>;
}) {
  const specialists = agents.filter((s) => s !== current);
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const action = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setNote(null);
    const done = await action.run(async () => {
      const parsed = HandoffBody.safeParse({ to, reason: reason.trim() });
      if (!parsed.success) return to ? issueSentence(parsed.error) : 'Choose the specialist to re-route to.';
      await api((parley) => parley.reroute(runId, parsed.data.to, parsed.data.reason));
    });
    if (done) {
      setNote(`Re-routed to ${to}.`);
      setReason('');
      setTo('');
      await onDone();
    }
  };
  return (
    <section aria-labelledby="reroute-h" className="card">
      <h2 id="reroute-h">Re-route</h2>
      <form onSubmit={(e) => void submit(e)} aria-busy={action.busy}>
        <label htmlFor="reroute-to">Re-route to</label>
        <select id="reroute-to" value={to} onChange={(e) => setTo(e.target.value)}>
          <option value="">Choose a specialist…</option>
          {specialists.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <label htmlFor="reroute-reason">Reason</label>
        <textarea id="reroute-reason" rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />
        <ErrorText error={action.error} />
        {note && <p role="status">{note}</p>}
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Re-routing…' : 'Re-route'}
        </button>
      </form>
    </section>
  );
}
