import { useState, type FormEvent } from 'react';
import { RetryBody } from '@parley/contracts/http/api.schemas';
import { api, issueSentence } from '../api';
import { ErrorText } from '../components';
import { forkAndOpen } from './fork';
import type { RunActionName, RunActionState } from './run-actions';

const LABEL: Record<RunActionName, string> = { cancel: 'Cancel', retry: 'Retry', fork: 'Fork' };

/** Cancel, retry and fork, offered as the server's permission rule allows; why not, when not. */
export function RunActions({
  runId,
  lastSeq,
  actions,
  onDone,
}: {
  runId: string;
  lastSeq: number;
  actions: Record<RunActionName, RunActionState>;
  onDone: () => Promise<void>;
}) {
  const [open, setOpen] = useState<RunActionName | null>(null);
  const [reason, setReason] = useState('');
  const [atSeq, setAtSeq] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    const text = reason.trim();
    setBusy(true);
    try {
      if (open === 'cancel') {
        await api((parley) => parley.cancel(runId, text || undefined));
      } else if (open === 'retry') {
        const parsed = RetryBody.safeParse(text ? { reason: text } : {});
        if (!parsed.success) return setError(issueSentence(parsed.error));
        await api((parley) => parley.retry(runId, parsed.data.reason));
      } else if (open === 'fork') {
        const problem = await forkAndOpen(runId, Number(atSeq || lastSeq), text);
        if (problem) setError(problem);
        return;
      }
      setOpen(null);
      setReason('');
      await onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-label="Run actions" className="run-actions" data-testid="run-actions">
      <div className="row">
        {(Object.keys(LABEL) as RunActionName[]).map((name) => {
          const state = actions[name];
          return (
            <button
              key={name}
              type="button"
              data-testid={`action-${name}`}
              disabled={!state.allowed}
              title={state.allowed ? undefined : state.why}
              aria-describedby={state.allowed ? undefined : `why-${name}`}
              aria-pressed={open === name}
              onClick={() => {
                setError(null);
                setOpen(open === name ? null : name);
              }}
            >
              {LABEL[name]}
            </button>
          );
        })}
      </div>
      {(Object.keys(LABEL) as RunActionName[])
        .filter((name) => !actions[name].allowed && actions[name].why)
        .map((name) => (
          <p key={name} id={`why-${name}`} className="muted small" data-testid={`why-${name}`}>
            {LABEL[name]}: {actions[name].why}.
          </p>
        ))}
      {open && (
        <form onSubmit={submit} aria-label={`${LABEL[open]} the run`} className="card">
          {open === 'fork' && (
            <>
              <label htmlFor="fork-seq">Fork after event (1–{lastSeq})</label>
              <input
                id="fork-seq"
                type="number"
                min={1}
                max={lastSeq}
                placeholder={String(lastSeq)}
                value={atSeq}
                onChange={(e) => setAtSeq(e.target.value)}
              />
            </>
          )}
          <label htmlFor="action-reason">{open === 'fork' ? 'Why you fork' : 'Reason (optional)'}</label>
          <input id="action-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          <ErrorText error={error} />
          <button type="submit" disabled={busy} data-testid="action-confirm">
            {busy ? 'Working…' : open === 'fork' ? 'Fork into a new run' : `${LABEL[open]} the run`}
          </button>
        </form>
      )}
    </section>
  );
}
