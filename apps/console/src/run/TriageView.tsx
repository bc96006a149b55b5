import type { Triage } from './triage';

/** A handoff run's routing: the triage's decisions, human reviews and re-routes. */
export function TriageView({ triage }: { triage: Triage }) {
  return (
    <section aria-labelledby="triage-h" className="card run-triage" data-testid="triage">
      <h2 id="triage-h">Routing</h2>
      <p className="small">
        Triage by <strong>{triage.triage}</strong> · now with{' '}
        <strong>{triage.current ?? 'nobody yet'}</strong> · {triage.overrides} override
        {triage.overrides === 1 ? '' : 's'}
      </p>
      <ol>
        {triage.steps.map((s) => (
          <li key={s.seq} data-testid="routing-step" data-kind={s.kind}>
            {s.kind}: {s.from ? `${s.from} → ` : ''}
            <strong>{s.to}</strong> by {s.by}
            {s.outcome ? ` (${s.outcome})` : ''}
            {s.reason ? ` · ${s.reason}` : ''}
          </li>
        ))}
      </ol>
    </section>
  );
}
