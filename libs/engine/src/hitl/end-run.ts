import type { Actor, NewEvent } from '@parley/contracts';
import type { RunState } from '../run-state';

const ENDINGS: Record<string, 'completed' | 'failed' | 'cancelled'> = {
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

/**
 * A run that ends closes what it still asks of humans: before its `run.completed`, `run.failed` or
 * `run.cancelled`, one `human-request.closed` per request still open (in `state`, or opened earlier in
 * the same batch), by the actor who ended it. The requests leave every inbox, and the notifications
 * say so. Pure; a batch that does not end the run is returned as it is.
 */
export function closingOpenRequests(state: RunState, events: NewEvent[]): NewEvent[] {
  const end = events.findIndex((e) => e.type in ENDINGS);
  if (end < 0) return events;
  const open = new Set(state.requests.filter((r) => r.status === 'open').map((r) => r.requestId));
  for (const e of events.slice(0, end)) {
    const requestId = (e.data as { requestId?: string }).requestId;
    if (!requestId) continue;
    if (e.type === 'human-request.opened') open.add(requestId);
    else if (
      e.type === 'human-request.resolved' ||
      e.type === 'human-request.expired' ||
      e.type === 'human-request.closed'
    )
      open.delete(requestId);
  }
  if (open.size === 0) return events;
  const ending = events[end];
  const closed: NewEvent[] = [...open].map((requestId) => ({
    type: 'human-request.closed',
    actor: ending.actor as Actor,
    data: { requestId, because: ENDINGS[ending.type] },
  }));
  return [...events.slice(0, end), ...closed, ...events.slice(end)];
}
