/**
 * "Who speaks next" on a live run, from its view and its events. Pure (no DOM, no React), so that it
 * is unit-tested on its own: the shapes below are the few fields it reads of a RunView and a RunEvent.
 */
export interface SpeakerRunView {
  status: string;
  pattern: string;
  pendingRequests: ReadonlyArray<{ kind: string }>;
}

export interface SpeakerEvent {
  type: string;
  data: unknown;
}

/** What the console shows: an agent's name, the human who has the floor, or nothing. */
export type NextSpeaker = { kind: 'agent'; name: string } | { kind: 'human' } | null;

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/**
 * The latest speaker.selected or model-call.started names who speaks (next), except while no agent
 * will: the floor is a human's (an open `input` request), or a specialist holds a handoff (the
 * console names the current specialist on its own line; the last agent that spoke is not next).
 */
export function nextSpeaker(run: SpeakerRunView, events: readonly SpeakerEvent[]): NextSpeaker {
  if (ENDED.has(run.status)) return null;
  if (run.pendingRequests.some((r) => r.kind === 'input')) return { kind: 'human' };
  if (events.some((e) => e.type.startsWith('handoff.'))) return null; // only a handoff hands off
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === 'speaker.selected')
      return { kind: 'agent', name: (e.data as { speaker: string }).speaker };
    if (e.type === 'model-call.started') return { kind: 'agent', name: (e.data as { agent: string }).agent };
  }
  return null;
}
