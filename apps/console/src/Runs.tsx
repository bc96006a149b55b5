import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { StartRunBody } from '@parley/contracts/http/api.schemas';
import { api, hasRole, issueSentence, type Me, type RunSummary, type WorkflowInfo } from './api';
import { Age, ErrorText, StatusBadge } from './components';

const STATUSES = ['running', 'waiting', 'completed', 'failed', 'cancelled'];

export function useWorkflows(): WorkflowInfo[] {
  const [workflows, setWorkflows] = useState<WorkflowInfo[]>([]);
  useEffect(() => {
    api((parley) => parley.workflows())
      .then(setWorkflows)
      .catch(() => setWorkflows([]));
  }, []);
  return workflows;
}

/** The run list: polled every 2 s, filtered by status, workflow and a search. */
export function Runs({ me }: { me: Me }) {
  const workflows = useWorkflows();
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [workflow, setWorkflow] = useState('');
  const [search, setSearch] = useState('');

  useEffect(() => {
    let stopped = false;
    const load = async (): Promise<void> => {
      try {
        const list = await api((parley) => parley.listRuns());
        if (!stopped) {
          setRuns(list);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError((e as Error).message);
      }
    };
    void load();
    const t = setInterval(load, 2000);
    return () => {
      stopped = true;
      clearInterval(t);
    };
  }, []);

  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (runs ?? []).filter(
      (r) =>
        (!status || r.status === status) &&
        (!workflow || r.workflow === workflow) &&
        (!q ||
          [r.runId, r.workflow, r.pattern, r.requestedBy, r.currentAgent ?? ''].some((f) =>
            f.toLowerCase().includes(q),
          )),
    );
  }, [runs, status, workflow, search]);

  return (
    <>
      <h1>Runs</h1>
      {hasRole(me, 'participant') && <StartRun workflows={workflows} />}
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">All runs</h2>
        <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <div>
            <label htmlFor="f-status">Status</label>
            <select id="f-status" value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="f-workflow">Workflow</label>
            <select id="f-workflow" value={workflow} onChange={(e) => setWorkflow(e.target.value)}>
              <option value="">Any workflow</option>
              {workflows.map((w) => (
                <option key={w.name}>{w.name}</option>
              ))}
            </select>
          </div>
          <div className="grow">
            <label htmlFor="f-search">Search</label>
            <input
              id="f-search"
              type="search"
              placeholder="run id, workflow, user…"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </div>
        </form>
        <ErrorText error={error} />
        {runs === null ? (
          <p>Loading runs…</p>
        ) : shown.length === 0 ? (
          <p className="muted">{runs.length === 0 ? 'No runs yet.' : 'No run matches these filters.'}</p>
        ) : (
          <table className="runs">
            <caption className="sr-only">Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Pattern</th>
                <th scope="col">Status</th>
                <th scope="col">Started by</th>
                <th scope="col">Age</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.runId}>
                  <td data-label="Run">
                    <a href={`#/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</a>
                  </td>
                  <td data-label="Workflow">{r.workflow}</td>
                  <td data-label="Pattern">{r.pattern}</td>
                  <td data-label="Status">
                    <span>
                      <StatusBadge status={r.status} />
                      {r.openRequests > 0 && (
                        <span className="badge waiting-human">waiting on a human ({r.openRequests})</span>
                      )}
                    </span>
                  </td>
                  <td data-label="Started by">{r.requestedBy}</td>
                  <td data-label="Age">
                    <Age since={r.createdAt} />
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

function StartRun({ workflows }: { workflows: WorkflowInfo[] }) {
  const [workflow, setWorkflow] = useState('');
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const chosen = workflows.find((w) => w.name === workflow);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    const parsed = StartRunBody.safeParse({ workflow, input });
    if (!parsed.success) return setError(issueSentence(parsed.error));
    setBusy(true);
    try {
      const { runId } = await api((parley) => parley.startRun(parsed.data));
      location.hash = `#/runs/${encodeURIComponent(runId)}`;
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="start-h" className="card">
      <h2 id="start-h">Start a run</h2>
      <form onSubmit={submit} className="start">
        <div>
          <label htmlFor="start-workflow">Workflow</label>
          <select id="start-workflow" value={workflow} onChange={(e) => setWorkflow(e.target.value)} required>
            <option value="">Choose a workflow…</option>
            {workflows.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name} ({w.pattern})
              </option>
            ))}
          </select>
          {chosen?.description && <p className="muted">{chosen.description}</p>}
        </div>
        <div className="grow">
          <label htmlFor="start-input">Input</label>
          <textarea id="start-input" rows={2} value={input} onChange={(e) => setInput(e.target.value)} />
        </div>
        <ErrorText error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Start run'}
        </button>
      </form>
    </section>
  );
}
