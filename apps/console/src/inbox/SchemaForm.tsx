import { useRef, useState, type ReactNode } from 'react';
import { itemPath, join, kindOf, newItem, type JsonSchema } from './json-schema';

/**
 * A form generated from a JSON Schema (json-schema.ts): one labelled control per field, nested
 * objects as fieldsets, lists as one fieldset per item (add, remove, move), JSON for the shapes it
 * does not know. `value` is controlled.
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
  if (kind === 'list')
    return (
      <ListField
        schema={schema}
        items={Array.isArray(value) ? (value as unknown[]) : []}
        onChange={onChange}
        path={path || 'Payload'}
        label={label}
        hint={hint}
        id={id}
      />
    );
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

/**
 * A list edited item by item: each item its own fieldset (`steps #2`), with buttons to move it up or
 * down and to remove it, and one to add an item; the list's bounds (minItems, maxItems) disable
 * them. Items keep their identity across moves, so a half-typed number stays with its item.
 */
function ListField({
  schema,
  items,
  onChange,
  path,
  label,
  hint,
  id,
}: {
  schema: JsonSchema;
  items: unknown[];
  onChange: (value: unknown) => void;
  path: string;
  label: string;
  hint: ReactNode;
  id: string;
}) {
  const next = useRef(0);
  const keys = useRef<number[]>([]);
  while (keys.current.length < items.length) keys.current.push(next.current++);
  keys.current.length = items.length;
  const canAdd = schema.maxItems === undefined || items.length < schema.maxItems;
  const canRemove = items.length > (schema.minItems ?? 0);
  const move = (from: number, to: number): void => {
    const order = [...items];
    const [item] = order.splice(from, 1);
    order.splice(to, 0, item);
    const [key] = keys.current.splice(from, 1);
    keys.current.splice(to, 0, key);
    onChange(order);
  };
  const remove = (at: number): void => {
    keys.current.splice(at, 1);
    onChange(items.filter((_, i) => i !== at));
  };
  return (
    <fieldset className="schema-list" id={id}>
      <legend>
        {label} {hint}
      </legend>
      {items.length === 0 && <p className="muted">No items.</p>}
      {items.map((item, i) => {
        const name = itemPath(label, i);
        return (
          <div className="schema-list-item" key={keys.current[i]}>
            <Field
              schema={schema.items!}
              value={item}
              onChange={(v) => onChange(items.map((old, j) => (j === i ? v : old)))}
              path={itemPath(path, i)}
              id={`${id}-${keys.current[i]}`}
            />
            <div className="actions">
              <button
                type="button"
                disabled={i === 0}
                onClick={() => move(i, i - 1)}
                aria-label={`Move ${name} up`}
              >
                ↑
              </button>
              <button
                type="button"
                disabled={i === items.length - 1}
                onClick={() => move(i, i + 1)}
                aria-label={`Move ${name} down`}
              >
                ↓
              </button>
              <button
                type="button"
                disabled={!canRemove}
                onClick={() => remove(i)}
                aria-label={`Remove ${name}`}
              >
                Remove
              </button>
            </div>
          </div>
        );
      })}
      <button type="button" disabled={!canAdd} onClick={() => onChange([...items, newItem(schema.items!)])}>
        Add to {label}
      </button>
    </fieldset>
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
