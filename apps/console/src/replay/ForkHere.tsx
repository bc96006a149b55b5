import { useState, type FormEvent } from 'react';
import { ErrorText } from '../components';
import { forkAndOpen } from '../run/fork';
import { useAction } from '../use-action';
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
  const action = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    // the new run opens (this page goes away), or the sentence why not
    await action.run(() => forkAndOpen(runId, atSeq, note.trim()));
  };

  if (!allowed.allowed)
    return (
      <p className="muted small" data-testid="fork-here-why">
        Forking: {allowed.why}.
      </p>
    );
  return (
    <form
      className="fork-here"
      aria-label="Fork from this event"
      aria-busy={action.busy}
      onSubmit={(e) => void submit(e)}
    >
      <label htmlFor="fork-here-note">Why you fork from event {atSeq}</label>
      <input id="fork-here-note" value={note} onChange={(e) => setNote(e.target.value)} />
      <button type="submit" disabled={action.busy}>
        {action.busy ? 'Forking…' : `Fork from event ${atSeq}`}
      </button>
      <ErrorText error={action.error} />
    </form>
  );
}
