import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { ErrorText } from '../components';
import { useAction } from '../use-action';

interface Imported {
  runId: string;
  ok: boolean;
  events: number;
}

/**
 * Import an export (admins): an NDJSON file written by `parley export` or "Download the log", signed
 * by a key this server trusts; every event is checked as an append would be, and nothing is imported
 * if one fails.
 */
export function ImportRuns() {
  const [file, setFile] = useState<File | null>(null);
  const [note, setNote] = useState('');
  const [imported, setImported] = useState<Imported[] | null>(null);
  const action = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!file) return action.setError('Choose an export file (.ndjson) first.');
    setImported(null);
    await action.run(async () => {
      const text = await file.text();
      const answer = await api((parley) => parley.importRuns(text, note.trim() || undefined));
      setImported(answer.imported);
    }, 'Nothing was imported: ');
  };

  return (
    <details className="card import-runs">
      <summary>Import an export (admin)</summary>
      <form aria-label="Import an export" aria-busy={action.busy} onSubmit={(e) => void submit(e)}>
        <label htmlFor="import-file">Export file (NDJSON, signed by a trusted key)</label>
        <input
          id="import-file"
          type="file"
          accept=".ndjson,application/x-ndjson"
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
        <label htmlFor="import-note">Note (optional)</label>
        <input id="import-note" value={note} onChange={(e) => setNote(e.target.value)} />
        <button type="submit" disabled={action.busy}>
          {action.busy ? 'Importing…' : 'Import'}
        </button>
        <ErrorText error={action.error} />
      </form>
      {imported && (
        <ul aria-label="Imported runs">
          {imported.map((r) => (
            <li key={r.runId}>
              <a href={`#/replay/${encodeURIComponent(r.runId)}`}>{r.runId}</a> · {r.events} events
              {r.ok ? '' : ' (not imported)'}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
