import { useEffect, useImperativeHandle, useState, type ReactNode, type Ref } from 'react';
import { DecisionBody } from '@parley/contracts/http/api.schemas';
import { DECISIONS_NEEDING_COMMENT } from '@parley/contracts/events/human.events';
import { api, hasRole, issueSentence, type Me, type RequestView, type TranscriptEntry } from './api';
import { EditPayload } from './inbox/EditPayload';

export function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

/** Re-render every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

/**
 * The local date and time as a tooltip, set when the pointer or focus comes (not at render: the first
 * toLocaleString of a page loads the locale's data, tens of ms, and a list shows fifty ages).
 */
function localTitle(since: string): (e: { currentTarget: HTMLElement }) => void {
  return (e) => {
    if (!e.currentTarget.title) e.currentTarget.title = new Date(since).toLocaleString();
  };
}

export function Age({ since }: { since: string }) {
  const now = useNow(5000);
  const title = localTitle(since);
  return (
    <time dateTime={since} onPointerEnter={title} onFocus={title}>
      {duration(now - Date.parse(since))} ago
    </time>
  );
}

/** Under this much time left a deadline turns the warning colour; under a minute, urgent. */
export const WARN_BEFORE_MS = 5 * 60_000;

export function Countdown({ deadline, short = false }: { deadline: string | null; short?: boolean }) {
  const now = useNow(1000);
  if (!deadline) return <span className="muted">{short ? '—' : 'No deadline'}</span>;
  const left = Date.parse(deadline) - now;
  return (
    <time
      dateTime={deadline}
      className={left < 60_000 ? 'urgent' : left < WARN_BEFORE_MS ? 'warning' : undefined}
      title={new Date(deadline).toLocaleString()}
    >
      {left > 0
        ? short
          ? duration(left)
          : `Closes in ${duration(left)}`
        : short
          ? 'passed'
          : 'Deadline passed'}
    </time>
  );
}

/** Any JSON value, readable: objects as a list of fields, long text as text, the rest as JSON. */
export function Payload({ value }: { value: unknown }): ReactNode {
  if (value === null || value === undefined) return <span className="muted">nothing</span>;
  if (typeof value === 'string') return <div className="text">{value}</div>;
  if (typeof value !== 'object') return <code>{String(value)}</code>;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null))
      return <span>{value.map(String).join(', ')}</span>;
    return (
      <ol className="payload-list">
        {value.map((v, i) => (
          <li key={i}>
            <Payload value={v} />
          </li>
        ))}
      </ol>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <code>{'{}'}</code>;
  return (
    <dl className="payload">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            {typeof v === 'object' && v !== null && depth(v) > 2 ? (
              <pre>{JSON.stringify(v, null, 2)}</pre>
            ) : (
              <Payload value={v} />
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  return 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(depth));
}

export function Transcript({
  entries,
  streaming,
  label = 'Transcript',
}: {
  entries: TranscriptEntry[];
  streaming?: { agent: string; text: string } | null;
  label?: string;
}) {
  return (
    <section aria-labelledby="transcript-h">
      <h2 id="transcript-h">{label}</h2>
      {entries.length === 0 && !streaming && <p className="muted">Nothing has been said yet.</p>}
      <ol className="transcript" aria-live="polite" aria-relevant="additions">
        {entries.map((t) => (
          <li key={`${t.seq}-${t.speaker}`} className={`turn role-${t.role}`} data-seq={t.seq}>
            <div className="speaker">
              <strong>{t.speaker}</strong>{' '}
              <span className="muted">
                {t.role} · #{t.seq}
              </span>
            </div>
            <div className="text">{t.content}</div>
          </li>
        ))}
      </ol>
      {streaming && (
        <div className="turn role-agent streaming" data-testid="streaming" aria-live="off">
          <div className="speaker">
            <strong>{streaming.agent}</strong> <span className="muted">is speaking…</span>
          </div>
          <div className="text">{streaming.text}</div>
        </div>
      )}
    </section>
  );
}

const DECISION_LABELS: Record<string, string> = {
  approve: 'Approve',
  reject: 'Reject',
  edit: 'Edit…',
  feedback: 'Send feedback',
  confirm: 'Confirm',
  decline: 'Decline',
  answer: 'Answer',
  handback: 'Hand back',
  close: 'Close',
  skip: 'Skip',
};
const NEEDS_COMMENT = new Set<string>(DECISIONS_NEEDING_COMMENT);

/** What a keyboard shortcut may ask of a request card (the inbox's a / r / e / c). */
export interface RequestActions {
  decide(decision: string): void;
  edit(): void;
  claim(): void;
  release(): void;
}

/** A human request: what is asked and why, its deadline, and the decisions the user may take. */
export function RequestCard({
  request,
  me,
  onDone,
  headingLevel = 3,
  readOnly = false,
  actions,
}: {
  request: RequestView;
  me: Me | null;
  onDone?: (status: string) => void;
  headingLevel?: 2 | 3;
  readOnly?: boolean;
  actions?: Ref<RequestActions>;
}) {
  const [comment, setComment] = useState('');
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const canAct = !readOnly && request.status === 'open' && request.roles.some((r) => hasRole(me, r));
  const H = headingLevel === 2 ? 'h2' : 'h3';
  const idBase = `req-${request.id}`;

  const decide = async (decision: string, payload?: unknown): Promise<void> => {
    setError(null);
    setNote(null);
    if (NEEDS_COMMENT.has(decision) && !comment.trim()) {
      setError(
        `"${DECISION_LABELS[decision] ?? decision}" needs a comment: write what the agent should know in the comment box.`,
      );
      return;
    }
    const message = {
      decision,
      ...(comment.trim() ? { comment: comment.trim() } : {}),
      ...(payload !== undefined ? { payload } : {}),
      payloadHash: request.payloadHash,
    };
    const parsed = DecisionBody.safeParse(message);
    if (!parsed.success) return setError(issueSentence(parsed.error));
    setBusy(true);
    try {
      const ack = await api((parley) => parley.decide(request.id, parsed.data));
      if (ack.status === 'recorded')
        setNote(`Your decision is recorded: ${ack.votes} of ${ack.quorum} votes.`);
      else if (ack.status === 'unchanged') setNote('You already took this decision.');
      else setNote('Decided.');
      setEditing(false);
      onDone?.(ack.status);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const claim = async (): Promise<void> => {
    setError(null);
    setBusy(true);
    try {
      const ack = await api((parley) => parley.claim(request.id));
      setNote(`Claimed by ${ack.by}.`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const release = async (): Promise<void> => {
    setError(null);
    setBusy(true);
    try {
      await api((parley) => parley.release(request.id));
      setNote('Handed back: anyone entitled may claim it.');
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useImperativeHandle(actions, () => ({
    decide: (d) => {
      if (canAct && !busy && request.decisions.includes(d as never)) void decide(d);
    },
    edit: () => {
      if (canAct && request.decisions.includes('edit')) setEditing(true);
    },
    claim: () => {
      if (canAct && !busy && request.claimedBy?.id !== me?.id) void claim();
    },
    release: () => {
      if (canAct && !busy && request.claimedBy?.id === me?.id) void release();
    },
  }));

  return (
    <article className="card request" aria-labelledby={`${idBase}-h`} data-request-id={request.id}>
      <header className="request-head">
        <H id={`${idBase}-h`}>{request.title}</H>
        <span className="badge">{request.kind}</span>
        {request.status !== 'open' && <StatusBadge status={request.status} />}
      </header>
      <p className="ask">{request.ask}</p>
      {request.escalation && (
        <p>
          <strong>Why:</strong> {request.escalation.reason}. <strong>Suggested:</strong>{' '}
          {request.escalation.suggested_action}
        </p>
      )}
      <details open>
        <summary>What is shown for the decision</summary>
        <Payload value={request.payload} />
      </details>
      <p className="meta">
        For {request.roles.join(', ')} · asked by {request.requester}
        {request.fourEyes ? ' · four-eyes' : ''}
        {request.quorum > 1 ? ` · quorum ${request.quorum}` : ''} ·{' '}
        {readOnly ? (
          request.deadline ? (
            `deadline ${new Date(request.deadline).toLocaleString()}`
          ) : (
            'no deadline'
          )
        ) : (
          <Countdown deadline={request.deadline} />
        )}
        {request.claimedBy ? ` · claimed by ${request.claimedBy.id}` : ''}
      </p>
      {canAct && (
        <div className="actions">
          <label htmlFor={`${idBase}-comment`}>Comment (optional; needed for feedback and answers)</label>
          <textarea
            id={`${idBase}-comment`}
            rows={2}
            value={comment}
            onChange={(e) => setComment(e.target.value)}
          />
          {editing && (
            <EditPayload
              request={request}
              busy={busy}
              onSubmit={(payload) => void decide('edit', payload)}
              onCancel={() => setEditing(false)}
            />
          )}
          <div className="buttons">
            {request.decisions.map((d) =>
              d === 'edit' ? (
                editing ? null : (
                  <button
                    key={d}
                    type="button"
                    className="secondary"
                    disabled={busy}
                    onClick={() => setEditing(true)}
                  >
                    Edit…
                  </button>
                )
              ) : (
                <button
                  key={d}
                  type="button"
                  className={d === 'reject' || d === 'decline' ? 'danger' : undefined}
                  disabled={busy}
                  onClick={() => void decide(d)}
                >
                  {DECISION_LABELS[d] ?? d}
                </button>
              ),
            )}
            {request.claimedBy?.id === me?.id ? (
              <button type="button" className="secondary" disabled={busy} onClick={() => void release()}>
                Hand back
              </button>
            ) : (
              <button type="button" className="secondary" disabled={busy} onClick={() => void claim()}>
                Claim
              </button>
            )}
          </div>
        </div>
      )}
      {note && (
        <p className="note" role="status">
          {note}
        </p>
      )}
      <ErrorText error={error} />
    </article>
  );
}
