import { useEffect, useState, type FormEvent } from 'react';
import { StartRunBody } from '@parley/contracts/http/api.schemas';
import { api, client, hasRole, issueSentence, type Me, type RunSummary, type WorkflowInfo } from './api';
import { Age, ErrorText, StatusBadge } from './components';
import { RUNS_PAGE } from './prefetch';
import { ImportRuns } from './replay/ImportRuns';

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

/** One page of runs: the size main.tsx prefetches on a page load of the list. */
const PAGE = RUNS_PAGE;

/** What a run waits on, as a person reads it: "approval (approver)", one per open request. */
function waitingOnText(r: RunSummary): string {
  return (r.waitingOn ?? []).map((w) => `${w.kind} (${w.roles.join(', ')})`).join('; ');
}

/**
 * The run list: one page of 50 from the server, newest first, with Newer/Older and the total;
 * filtered by status, workflow and a search (title, workflow, run id) on the server; live through
 * `runs:watch` (a change reloads the page shown, at most every 200 ms as the server batches).
 */
export function Runs({ me }: { me: Me }) {
  const workflows = useWorkflows();
  const [page, setPage] = useState<{ runs: RunSummary[]; total: number; nextCursor?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [workflow, setWorkflow] = useState('');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  /** The cursors of the pages shown before this one: Newer pops one, Older pushes one. */
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const t = setTimeout(() => {
      setQ(search.trim());
      setCursors([]);
    }, 250);
    return () => clearTimeout(t);
  }, [search]);

  useEffect(() => {
    let stopped = false;
    api((parley) =>
      parley.runsPage({
        limit: PAGE,
        ...(status ? { status: status as RunSummary['status'] } : {}),
        ...(workflow ? { workflow } : {}),
        ...(q ? { q } : {}),
        ...(cursor ? { cursor } : {}),
      }),
    )
      .then((answer) => {
        if (stopped) return;
        setPage(answer);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!stopped) setError((e as Error).message);
      });
    return () => {
      stopped = true;
    };
  }, [status, workflow, q, cursor, tick]);

  // The socket opens once the first page is shown (opening it costs the main thread, and the first
  // page does not wait on it); once subscribed, onChange([]) reads the page again, so a change made
  // before the watch began (the prefetched first page's included) is not missed.
  const shown = page !== null || error !== null;
  useEffect(() => {
    if (!shown) return;
    const watch = client().watchRuns({
      onChange: () => setTick((n) => n + 1),
      onError: (e) => setError(e.message),
    });
    return () => watch.close();
  }, [shown]);

  const first = cursors.length * PAGE + 1;

  return (
    <>
      <h1>Runs</h1>
      {hasRole(me, 'participant') && <StartRun workflows={workflows} />}
      {hasRole(me, 'admin') && <ImportRuns />}
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">All runs</h2>
        <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <div>
            <label htmlFor="f-status">Status</label>
            <select
              id="f-status"
              value={status}
              onChange={(e) => {
                setStatus(e.target.value);
                setCursors([]);
              }}
            >
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="f-workflow">Workflow</label>
            <select
              id="f-workflow"
              value={workflow}
              onChange={(e) => {
                setWorkflow(e.target.value);
                setCursors([]);
              }}
            >
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
              placeholder="title, workflow, run id…"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
          </div>
        </form>
        <ErrorText error={error} />
        {page === null ? (
          <p>Loading runs…</p>
        ) : page.runs.length === 0 ? (
          <p className="muted">
            {!status && !workflow && !q ? 'No runs yet.' : 'No run matches these filters.'}
          </p>
        ) : (
          <>
            <nav className="pager" aria-label="Pages of runs">
              <button
                type="button"
                disabled={cursors.length === 0}
                onClick={() => setCursors((c) => c.slice(0, -1))}
              >
                Newer
              </button>
              <span className="muted" aria-live="polite">
                {first}–{first + page.runs.length - 1} of {page.total}
              </span>
              <button
                type="button"
                disabled={!page.nextCursor}
                onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor!])}
              >
                Older
              </button>
            </nav>
            <table className="runs">
              <caption className="sr-only">Runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">Workflow</th>
                  <th scope="col">Status</th>
                  <th scope="col">Waiting on</th>
                  <th scope="col">Started by</th>
                  <th scope="col">Age</th>
                </tr>
              </thead>
              <tbody>
                {page.runs.map((r) => (
                  <tr key={r.runId}>
                    <td data-label="Title">
                      <a href={`#/runs/${encodeURIComponent(r.runId)}`}>
                        {r.title || '(no title)'} <small className="muted">{r.runId}</small>
                      </a>
                    </td>
                    <td data-label="Workflow">
                      {r.workflow} <small className="muted">{r.pattern}</small>
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={r.status} />
                    </td>
                    <td data-label="Waiting on">{waitingOnText(r) || <span className="muted">—</span>}</td>
                    <td data-label="Started by">{r.requestedBy}</td>
                    <td data-label="Age">
                      <Age since={r.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
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
