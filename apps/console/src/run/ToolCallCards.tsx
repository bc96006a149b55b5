import { Payload } from '../components';
import { who } from './run-events';
import type { ToolCallCard } from './tool-calls';

/** Each tool call: arguments, result, who let it run and on which payload hash. */
export function ToolCallCards({ calls }: { calls: ToolCallCard[] }) {
  return (
    <section aria-labelledby="tools-h" className="run-tools">
      <h2 id="tools-h">Tool calls</h2>
      {calls.map((c) => (
        <article key={c.callId} className="card tool-call" data-testid="tool-call" data-tool={c.tool}>
          <h3>
            {c.tool} <span className={`badge status-${c.status}`}>{c.status}</span>{' '}
            <span className="muted small">
              by {c.agent}
              {c.attempts > 1 ? ` · ${c.attempts} attempts` : ''}
            </span>
          </h3>
          <p className="small">
            Payload hash: <code data-testid="args-hash">{c.argsHash}</code>
          </p>
          <h4>Arguments</h4>
          <Payload value={c.args} />
          {c.result !== undefined && (
            <>
              <h4>Result</h4>
              <Payload value={c.result} />
            </>
          )}
          {c.error && <p className="error">{c.error}</p>}
          {c.gates.map((g) => (
            <div key={g.requestId} className="tool-gate" data-testid="tool-gate">
              <p className="small">
                {g.kind}: {g.title} · {g.status}
                {g.outcome ? ` (${g.outcome})` : ''} ·{' '}
                {g.boundToCall ? 'shown the call itself' : 'shown a different payload'}
              </p>
              <ul>
                {g.decisions.map((d, i) => (
                  <li key={i} data-testid="tool-approver">
                    {d.decision} by <strong>{who(d.by)}</strong> on{' '}
                    <code title={d.payloadHash}>{d.payloadHash.slice(0, 12)}</code>
                    {d.onShownPayload ? ' (the payload shown)' : ' (NOT the payload shown)'}
                    {d.comment ? `: “${d.comment}”` : ''}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </article>
      ))}
    </section>
  );
}
