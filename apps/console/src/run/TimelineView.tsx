import { ms } from './format';
import type { Timeline } from './timeline';

/** Where the run's time went: a lane per agent, tool and human group, a bar per call or wait. */
export function TimelineView({ timeline }: { timeline: Timeline }) {
  const span = Math.max(timeline.durationMs, 1);
  return (
    <section aria-labelledby="timeline-h" className="card run-timeline" data-testid="timeline">
      <h2 id="timeline-h">Timeline</h2>
      <p className="muted small" data-testid="timeline-totals">
        {ms(timeline.durationMs)} in all · model calls {ms(timeline.totals.model)} · tool calls{' '}
        {ms(timeline.totals.tool)} · human waits {ms(timeline.totals.human)}
      </p>
      {timeline.waitedOn.length > 0 && (
        <ul className="waited-on" aria-label="Who was waited on">
          {timeline.waitedOn.map((w) => (
            <li key={w.lane} data-testid="waited-on">
              {w.lane}: {ms(w.ms)}
            </li>
          ))}
        </ul>
      )}
      {timeline.bars.length === 0 ? (
        <p className="muted">Nothing has happened yet.</p>
      ) : (
        <div className="lanes">
          {timeline.lanes.map((lane) => (
            <div
              key={lane.name}
              className={`lane lane-${lane.kind}`}
              data-testid="timeline-lane"
              data-lane={lane.name}
            >
              <span className="lane-name">{lane.name}</span>
              <span className="lane-track">
                {timeline.bars
                  .filter((b) => b.lane === lane.name)
                  .map((b) => (
                    <span
                      key={b.id}
                      className={`bar bar-${b.kind} bar-status-${b.status}${b.open ? ' open' : ''}`}
                      data-testid="timeline-bar"
                      data-kind={b.kind}
                      data-lane={b.lane}
                      title={`${b.label}: ${b.detail} (${ms(b.end - b.start)})`}
                      aria-label={`${b.label}: ${b.detail}`}
                      style={{
                        left: `${(b.start / span) * 100}%`,
                        width: `max(3px, ${((b.end - b.start) / span) * 100}%)`,
                      }}
                    />
                  ))}
              </span>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
