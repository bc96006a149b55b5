import { diffValues } from './diff';

const show = (v: unknown): string => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

/** What the edit changes against what was proposed, field by field. */
export function PayloadDiff({ proposed, edited }: { proposed: unknown; edited: unknown }) {
  const changes = diffValues(proposed, edited);
  return (
    <section className="diff" aria-label="Changes against the proposal">
      <h4>Changes against the proposal</h4>
      {changes.length === 0 ? (
        <p className="muted">No change yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Proposed</th>
              <th scope="col">Your edit</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((c) => (
              <tr key={c.path}>
                <th scope="row">{c.path}</th>
                <td>
                  <del>{show(c.before)}</del>
                </td>
                <td>
                  <ins>{show(c.after)}</ins>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
