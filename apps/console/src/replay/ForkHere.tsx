import { useState, type FormEvent } from 'react';
import { ErrorText } from '../components';
import { forkAndOpen } from '../run/fork';
import type { RunActionState } from '../run/run-actions';

/** Fork the run from the event the replay shows: a new run with the history up to it (the server checks again). */
export function ForkHere({
  runId,
  atSeq,
  allowed,
}: {
  runId: string;
  atSeq: number;
  allowed: RunActionState;
}) {
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setError(await forkAndOpen(runId, atSeq, note.trim()));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (!allowed.allowed)
    return (
      <p className="muted small" data-testid="fork-here-why">
        Forking: {allowed.why}.
      </p>
    );
  return (
    <form className="fork-here" aria-label="Fork from this event" onSubmit={(e) => void submit(e)}>
      <label htmlFor="fork-here-note">Why you fork from event {atSeq}</label>
      <input id="fork-here-note" value={note} onChange={(e) => setNote(e.target.value)} />
      <button type="submit" disabled={busy}>
        {busy ? 'Forking…' : `Fork from event ${atSeq}`}
      </button>
      <ErrorText error={error} />
    </form>
  );
}
