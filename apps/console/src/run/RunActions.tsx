import { useState, type FormEvent } from 'react';
import { RetryBody } from '@parley/contracts/http/api.schemas';
import { api, issueSentence } from '../api';
import { ErrorText } from '../components';
import { useAction } from '../use-action';
import { forkAndOpen } from './fork';
import type { RunActionName, RunActionState } from './run-actions';

const LABEL: Record<RunActionName, string> = { cancel: 'Cancel', retry: 'Retry', fork: 'Fork' };
const BUSY: Record<RunActionName, string> = { cancel: 'Cancelling…', retry: 'Retrying…', fork: 'Forking…' };

/**
 * Cancel, retry and fork, offered as the server's permission rule allows; why not, when not. An open
 * form goes away when its action stops applying (the run ended or was retried meanwhile).
 */
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
  const action = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const text = reason.trim();
    const which = open;
    if (!which) return;
    const done = await action.run(async () => {
      if (which === 'cancel') {
        await api((parley) => parley.cancel(runId, text || undefined));
      } else if (which === 'retry') {
        const parsed = RetryBody.safeParse(text ? { reason: text } : {});
        if (!parsed.success) return issueSentence(parsed.error);
        await api((parley) => parley.retry(runId, parsed.data.reason));
      } else {
        // the new run opens (this page goes away) or the sentence why not
        return forkAndOpen(runId, Number(atSeq || lastSeq), text);
      }
    });
    if (done && which !== 'fork') {
      setOpen(null);
      setReason('');
      await onDone();
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
              disabled={!state.allowed || action.busy}
              title={state.allowed ? undefined : state.why}
              aria-describedby={state.allowed ? undefined : `why-${name}`}
              aria-pressed={open === name}
              onClick={() => {
                action.setError(null);
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
      {open && actions[open].allowed && (
        <form
          onSubmit={(e) => void submit(e)}
          aria-label={`${LABEL[open]} the run`}
          aria-busy={action.busy}
          className="card"
        >
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
          <ErrorText error={action.error} />
          <button type="submit" disabled={action.busy} data-testid="action-confirm">
            {action.busy ? BUSY[open] : open === 'fork' ? 'Fork into a new run' : `${LABEL[open]} the run`}
          </button>
        </form>
      )}
    </section>
  );
}
