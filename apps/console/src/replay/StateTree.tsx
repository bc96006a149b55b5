import { childPath, type StateDiff } from './state-diff';

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] =>
  typeof v === 'object' && v !== null;

const leaf = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * A run's state as a readable tree: objects and lists fold (open at the top, and wherever something
 * changed since the previous event), leaves show their value; what changed is marked, what went is
 * listed at the end.
 */
export function StateTree({
  state,
  diff,
  previousSeq,
}: {
  state: unknown;
  diff: StateDiff;
  previousSeq: number | null;
}) {
  return (
    <div className="state-tree" data-testid="state-tree">
      <p className="muted small">
        {previousSeq === null
          ? 'The first event: everything is new.'
          : diff.changed.size === 0 && diff.removed.length === 0
            ? `Nothing in the state changed since event ${previousSeq}.`
            : `Marked: what changed since event ${previousSeq}.`}
      </p>
      <Node value={state} path="" name="state" depth={0} diff={diff} />
      {diff.removed.length > 0 && (
        <div className="state-removed">
          <h4>Gone since event {previousSeq}</h4>
          <ul>
            {diff.removed.map((r) => (
              <li key={r.path} data-path={r.path}>
                <del>
                  {r.path}: {isContainer(r.before) ? JSON.stringify(r.before) : leaf(r.before)}
                </del>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function Node({
  value,
  path,
  name,
  depth,
  diff,
}: {
  value: unknown;
  path: string;
  name: string;
  depth: number;
  diff: StateDiff;
}) {
  const changed = path !== '' && diff.changed.has(path);
  const mark = changed ? (
    <span className="badge changed" aria-label="changed">
      changed
    </span>
  ) : null;
  if (!isContainer(value))
    return (
      <li className={changed ? 'state-leaf changed' : 'state-leaf'} data-path={path} data-changed={changed}>
        <span className="key">{name}</span>: <code>{leaf(value)}</code>
        {mark && ' '}
        {mark}
      </li>
    );
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  const summary = Array.isArray(value) ? `${entries.length} items` : `${entries.length} fields`;
  const body = (
    <details open={depth === 0 || changed} data-path={path} data-changed={changed}>
      <summary>
        <span className="key">{name}</span> <span className="muted small">{summary}</span>
        {mark && ' '}
        {mark}
      </summary>
      <ul>
        {entries.map(([key, v]) => (
          <Node key={key} value={v} path={childPath(path, key)} name={key} depth={depth + 1} diff={diff} />
        ))}
      </ul>
    </details>
  );
  return depth === 0 ? body : <li className={changed ? 'state-node changed' : 'state-node'}>{body}</li>;
}
