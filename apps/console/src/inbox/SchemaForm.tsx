import { useState } from 'react';
import { join, kindOf, type JsonSchema } from './json-schema';

/**
 * A form generated from a JSON Schema (json-schema.ts): one labelled control per field, nested
 * objects as fieldsets, JSON for the shapes it does not know. `value` is controlled.
 */
export function SchemaForm({
  schema,
  value,
  onChange,
  idBase,
}: {
  schema: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
  idBase: string;
}) {
  return <Field schema={schema} value={value} onChange={onChange} path="" id={idBase} required />;
}

function Field({
  schema,
  value,
  onChange,
  path,
  id,
  required,
}: {
  schema: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
  path: string;
  id: string;
  required?: boolean;
}) {
  const kind = kindOf(schema);
  const label = path.split('.').pop() || 'Payload';
  const hint = schema.description ? <span className="hint">{schema.description}</span> : null;
  const labelEl = (
    <label htmlFor={id}>
      {label}
      {required && kind !== 'object' ? <span aria-hidden="true"> *</span> : null} {hint}
    </label>
  );

  if (kind === 'object') {
    const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const fields = Object.entries(schema.properties!).map(([key, sub]) => (
      <Field
        key={key}
        schema={sub}
        value={record[key]}
        onChange={(v) => onChange({ ...record, [key]: v })}
        path={join(path, key)}
        id={`${id}-${key}`}
        required={schema.required?.includes(key)}
      />
    ));
    if (!path) return <div className="schema-form">{fields}</div>;
    return (
      <fieldset className="schema-object">
        <legend>
          {label} {hint}
        </legend>
        {fields}
      </fieldset>
    );
  }
  if (kind === 'const')
    return (
      <div className="field">
        {labelEl}
        <input id={id} value={String(schema.const)} readOnly />
      </div>
    );
  if (kind === 'enum')
    return (
      <div className="field">
        {labelEl}
        <select
          id={id}
          value={JSON.stringify(value ?? null)}
          onChange={(e) => onChange(JSON.parse(e.target.value))}
        >
          {value === undefined && <option value="null">Choose…</option>}
          {schema.enum!.map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      </div>
    );
  if (kind === 'boolean')
    return (
      <div className="field checkbox">
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          onChange={(e) => onChange(e.target.checked)}
        />
        {labelEl}
      </div>
    );
  if (kind === 'number' || kind === 'integer')
    return (
      <div className="field">
        {labelEl}
        <NumberInput id={id} value={value} integer={kind === 'integer'} onChange={onChange} />
      </div>
    );
  if (kind === 'string') {
    const text = typeof value === 'string' ? value : '';
    const long = text.length > 80 || text.includes('\n') || (schema.maxLength ?? 0) > 200;
    return (
      <div className="field">
        {labelEl}
        {long ? (
          <textarea
            id={id}
            rows={Math.min(12, 2 + text.split('\n').length)}
            value={text}
            onChange={(e) => onChange(e.target.value)}
          />
        ) : (
          <input id={id} value={text} onChange={(e) => onChange(e.target.value)} />
        )}
      </div>
    );
  }
  if (kind === 'strings') {
    const lines = Array.isArray(value) ? (value as unknown[]).map(String) : [];
    return (
      <div className="field">
        {labelEl}
        <span className="hint">One item a line.</span>
        <textarea
          id={id}
          rows={Math.max(3, lines.length + 1)}
          value={lines.join('\n')}
          onChange={(e) => onChange(e.target.value.split('\n').filter((l) => l.trim() !== ''))}
        />
      </div>
    );
  }
  return (
    <div className="field">
      {labelEl}
      <JsonInput id={id} value={value} onChange={onChange} />
    </div>
  );
}

/** A number typed as text: the value changes only when the text is a number (empty: unset). */
function NumberInput({
  id,
  value,
  integer,
  onChange,
}: {
  id: string;
  value: unknown;
  integer: boolean;
  onChange: (value: unknown) => void;
}) {
  const [text, setText] = useState(typeof value === 'number' ? String(value) : '');
  return (
    <input
      id={id}
      type="number"
      inputMode={integer ? 'numeric' : 'decimal'}
      step={integer ? 1 : 'any'}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const n = Number(e.target.value);
        onChange(e.target.value.trim() === '' ? undefined : Number.isFinite(n) ? n : value);
      }}
    />
  );
}

/** A field edited as JSON: the value changes when the text parses; a parse error is shown. */
function JsonInput({
  id,
  value,
  onChange,
}: {
  id: string;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const [text, setText] = useState(() => JSON.stringify(value ?? null, null, 2));
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <textarea
        id={id}
        className="mono"
        rows={Math.min(12, text.split('\n').length + 1)}
        value={text}
        aria-invalid={error ? true : undefined}
        onChange={(e) => {
          setText(e.target.value);
          try {
            onChange(JSON.parse(e.target.value));
            setError(null);
          } catch (err) {
            setError(`Not valid JSON: ${(err as Error).message}.`);
          }
        }}
      />
      {error && <span className="error">{error}</span>}
    </>
  );
}
