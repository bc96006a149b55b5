import { Age, Countdown } from '../components';
import type { RunGroup } from './inbox-model';

/** The compact list: one row per request, grouped by run; the selected row is the detail pane's. */
export function InboxList({
  groups,
  selectedId,
  onSelect,
  me,
}: {
  groups: RunGroup[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  me: string;
}) {
  return (
    <div className="inbox-list" role="listbox" aria-label="Open requests" tabIndex={-1}>
      {groups.map((g) => (
        <div key={g.runId} role="group" aria-labelledby={`grp-${g.runId}`} className="inbox-group">
          <div id={`grp-${g.runId}`} className="inbox-group-head">
            {g.workflow ?? 'run'} <span className="muted">· {g.runId.slice(0, 8)}</span>
            {g.requests.length > 1 && <span className="badge">{g.requests.length} requests</span>}
          </div>
          {g.requests.map((r) => (
            <div
              key={r.id}
              id={`opt-${r.id}`}
              role="option"
              aria-selected={r.id === selectedId}
              data-request-id={r.id}
              className="inbox-row"
              onClick={() => onSelect(r.id)}
            >
              <span className={`badge kind-${r.kind}`}>{r.kind}</span>
              <span className="title">{r.title}</span>
              {r.claimedBy && (
                <span className="badge claimed" title={`claimed by ${r.claimedBy}`}>
                  {r.claimedBy === me ? 'mine' : r.claimedBy}
                </span>
              )}
              <span className="when">
                <Countdown deadline={r.deadline} short /> · <Age since={r.createdAt} />
              </span>
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}
