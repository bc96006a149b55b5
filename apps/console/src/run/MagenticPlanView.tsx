import type { MagenticPlan } from './magentic-plan';

/** A magentic run's plan, each revision with its review, and the manager's progress ledger. */
export function MagenticPlanView({ plan }: { plan: MagenticPlan }) {
  return (
    <section aria-labelledby="plan-h" className="card run-plan" data-testid="magentic-plan">
      <h2 id="plan-h">Plan</h2>
      {plan.revisions.length === 0 && <p className="muted">The manager has not planned yet.</p>}
      <ol className="plan-revisions">
        {plan.revisions.map((r) => (
          <li
            key={r.seq}
            data-testid="plan-revision"
            className={r.revision === plan.current ? 'current' : undefined}
          >
            <strong>
              Revision {r.revision}
              {r.revision === plan.current ? ' (followed)' : ''}
            </strong>{' '}
            <span className="muted small">by the {r.source}</span>
            {r.facts && <p className="small">{r.facts}</p>}
            <ol>
              {r.steps.map((s, i) => (
                <li key={i}>
                  <strong>{s.agent}</strong>: {s.task}
                </li>
              ))}
            </ol>
            {r.review && (
              <p className="small" data-testid="plan-review">
                Review: {r.review.status}
                {r.review.outcome ? ` (${r.review.outcome})` : ''}
                {r.review.by.length > 0 ? ` by ${r.review.by.join(', ')}` : ''}
                {r.review.comment ? `: “${r.review.comment}”` : ''}
              </p>
            )}
          </li>
        ))}
      </ol>
      <h3>Progress ledger</h3>
      <p className="muted small" data-testid="ledger-stalls">
        {plan.ledger.length} entries · {plan.stalls} without progress
      </p>
      {plan.ledger.length > 0 && (
        <table className="ledger" data-testid="progress-ledger">
          <thead>
            <tr>
              <th>#</th>
              <th>Done</th>
              <th>Progress</th>
              <th>Looping</th>
              <th>Next</th>
              <th>Instruction</th>
            </tr>
          </thead>
          <tbody>
            {plan.ledger.map((l) => (
              <tr key={l.seq} data-testid="ledger-entry" title={l.reason}>
                <td>{l.seq}</td>
                <td>{l.satisfied ? 'yes' : 'no'}</td>
                <td>{l.progressing ? 'yes' : 'no'}</td>
                <td>{l.looping ? 'yes' : 'no'}</td>
                <td>{l.nextSpeaker}</td>
                <td>{l.instruction}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
