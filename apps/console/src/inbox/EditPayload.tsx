import { useMemo, useState } from 'react';
import type { RequestView } from '../api';
import { ErrorText } from '../components';
import { editableValue, inferSchema, problems, type JsonSchema } from './json-schema';
import { PayloadDiff } from './PayloadDiff';
import { SchemaForm } from './SchemaForm';

/**
 * An edit of a request's payload: a form generated from the request's edit schema (the tool's
 * parameters, the pattern's plan or route; inferred from the payload when the server sends none),
 * with the changes against the proposal shown as they are made.
 */
export function EditPayload({
  request,
  busy,
  onSubmit,
  onCancel,
}: {
  request: RequestView;
  busy: boolean;
  onSubmit: (payload: unknown) => void;
  onCancel: () => void;
}) {
  const schema = useMemo<JsonSchema>(
    () => (request.editSchema as JsonSchema | undefined) ?? inferSchema(request.payload),
    [request.editSchema, request.payload],
  );
  const proposed = useMemo(() => editableValue(schema, request.payload), [schema, request.payload]);
  const [value, setValue] = useState<unknown>(proposed);
  const [error, setError] = useState<string | null>(null);
  const idBase = `edit-${request.id}`;

  const submit = (): void => {
    const found = problems(schema, value);
    if (found.length) return setError(found.join(' '));
    setError(null);
    onSubmit(value);
  };

  return (
    <form
      className="edit-payload"
      aria-label="Edit the proposal"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <p className="muted small">
        {request.editSchema
          ? 'The form follows the schema the server checks the edit against.'
          : 'The form follows the proposal’s own fields.'}
      </p>
      <SchemaForm
        schema={schema}
        value={value}
        onChange={(v) => {
          setValue(v);
          setError(null);
        }}
        idBase={idBase}
      />
      <PayloadDiff proposed={proposed} edited={value} />
      <ErrorText error={error} />
      <div className="buttons">
        <button type="submit" disabled={busy}>
          Submit edit
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel edit
        </button>
      </div>
    </form>
  );
}
