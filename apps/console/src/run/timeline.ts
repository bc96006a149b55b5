import { dataOf, ENDED_STATUSES, requestHistories, who, type RunEventLike } from './run-events';

/** The run on a time axis: model calls, tool calls and human waits as bars, from event timestamps. */
export type BarKind = 'model' | 'tool' | 'human';

export interface TimelineBar {
  id: string;
  kind: BarKind;
  /** The row it sits on: the agent, `tool <name>`, or `humans: <roles>`. */
  lane: string;
  label: string;
  /** A sentence for a tooltip: what it was, who was waited on, who answered. */
  detail: string;
  /** Milliseconds from the run's first event. */
  start: number;
  end: number;
  /** Still going (its end is "now"). */
  open: boolean;
  status: string;
}

export interface Timeline {
  startedAt: string | null;
  /** From the first event to the last (or to now while the run goes on). */
  durationMs: number;
  lanes: Array<{ name: string; kind: BarKind }>;
  bars: TimelineBar[];
  /** Time spent per kind of bar (bars that overlap each count: concurrent work adds up). */
  totals: Record<BarKind, number>;
  /** Per human lane, how long they were waited on. */
  waitedOn: Array<{ lane: string; ms: number }>;
}

export function timeline(events: readonly RunEventLike[], now: number, status: string): Timeline {
  if (events.length === 0)
    return {
      startedAt: null,
      durationMs: 0,
      lanes: [],
      bars: [],
      totals: { model: 0, tool: 0, human: 0 },
      waitedOn: [],
    };
  const t0 = Date.parse(events[0].at);
  const last = Date.parse(events[events.length - 1].at);
  const endOfRun = ENDED_STATUSES.has(status) ? last : Math.max(last, now);
  const at = (iso: string): number => Date.parse(iso) - t0;
  const bars: TimelineBar[] = [];

  const calls = new Map<string, TimelineBar>();
  const tools = new Map<string, TimelineBar>();
  for (const e of events) {
    const started = dataOf(e, 'model-call.started');
    const completed = dataOf(e, 'model-call.completed');
    const failed = dataOf(e, 'model-call.failed');
    const retried = dataOf(e, 'model-call.retried');
    if (started) {
      const bar: TimelineBar = {
        id: `model:${started.callId}`,
        kind: 'model',
        lane: started.agent,
        label: started.purpose,
        detail: `${started.agent}: ${started.purpose} (model ${started.model})`,
        start: at(e.at),
        end: endOfRun - t0,
        open: true,
        status: 'running',
      };
      calls.set(started.callId, bar);
      bars.push(bar);
    }
    const endedCall = completed ?? failed;
    const bar = endedCall && calls.get(endedCall.callId);
    if (bar && endedCall) {
      bar.end = at(e.at);
      bar.open = false;
      bar.status = completed ? 'completed' : 'failed';
      const tokens = completed?.usage
        ? `, ${completed.usage.promptTokens} prompt / ${completed.usage.completionTokens} completion tokens`
        : '';
      const attempts = endedCall.attempts > 1 ? `, ${endedCall.attempts} attempts` : '';
      bar.detail += failed ? ` failed: ${failed.message}${attempts}` : `${tokens}${attempts}`;
    }
    if (retried && calls.get(retried.callId))
      calls.get(retried.callId)!.detail += ` · retried (${retried.code})`;

    const requested = dataOf(e, 'tool-call.requested');
    if (requested) {
      const tool: TimelineBar = {
        id: `tool:${requested.callId}`,
        kind: 'tool',
        lane: `tool ${requested.tool}`,
        label: requested.tool,
        detail: `${requested.agent} asked for ${requested.tool}`,
        start: at(e.at),
        end: endOfRun - t0,
        open: true,
        status: 'requested',
      };
      tools.set(requested.callId, tool);
      bars.push(tool);
    }
    const toolStarted = dataOf(e, 'tool-call.started');
    if (toolStarted && tools.get(toolStarted.callId)) {
      const tool = tools.get(toolStarted.callId)!;
      tool.start = at(e.at); // the wait for its approval is the human bar, not the tool's
      tool.status = 'running';
    }
    const toolDone = dataOf(e, 'tool-call.completed');
    const toolFailed = dataOf(e, 'tool-call.failed');
    const toolRejected = dataOf(e, 'tool-call.rejected');
    const toolEnd = toolDone ?? toolFailed ?? toolRejected;
    if (toolEnd && tools.get(toolEnd.callId)) {
      const tool = tools.get(toolEnd.callId)!;
      tool.end = at(e.at);
      tool.open = false;
      tool.status = toolDone ? 'completed' : toolFailed ? 'failed' : 'rejected';
      if (toolRejected) tool.start = tool.end;
      tool.detail += toolDone
        ? ', completed'
        : toolFailed
          ? `, failed: ${toolFailed.message}`
          : `, rejected: ${toolRejected!.reason}`;
    }
  }
  if (ENDED_STATUSES.has(status))
    for (const b of bars) if (b.open) Object.assign(b, { open: false, status: 'unfinished' });

  for (const r of requestHistories(events)) {
    const lane = `humans: ${r.roles.join(', ')}`;
    const answered = r.deciders.length
      ? `, answered by ${r.deciders.map(who).join(', ')}`
      : r.decisions.length
        ? `, votes by ${r.decisions.map((d) => who(d.by)).join(', ')}`
        : '';
    const open = r.status === 'open' && !ENDED_STATUSES.has(status);
    bars.push({
      id: `human:${r.requestId}`,
      kind: 'human',
      lane,
      label: r.title,
      detail: `${r.title}: waited on ${r.roles.join(', ')}${answered}${r.outcome ? ` → ${r.outcome}` : open ? ' (still waiting)' : ''}`,
      start: at(r.openedAt),
      end: r.endedAt ? at(r.endedAt) : endOfRun - t0,
      open,
      status: r.status,
    });
  }

  bars.sort((a, b) => a.start - b.start); // stable: ties keep the order of their events
  const lanes: Timeline['lanes'] = [];
  for (const b of bars) if (!lanes.some((l) => l.name === b.lane)) lanes.push({ name: b.lane, kind: b.kind });
  const totals = { model: 0, tool: 0, human: 0 };
  const waited = new Map<string, number>();
  for (const b of bars) {
    totals[b.kind] += b.end - b.start;
    if (b.kind === 'human') waited.set(b.lane, (waited.get(b.lane) ?? 0) + b.end - b.start);
  }
  return {
    startedAt: events[0].at,
    durationMs: endOfRun - t0,
    lanes,
    bars,
    totals,
    waitedOn: [...waited].map(([lane, ms]) => ({ lane, ms })),
  };
}
