import { magenticPlan, type MagenticPlan } from './magentic-plan';
import { patternGraph, type PatternGraph } from './pattern-graph';
import { rerouteAction, runActions, type RunActionName, type RunActionState } from './run-actions';
import { dataOf, requestHistories, startedWorkflow, statusOf, type RunEventLike } from './run-events';
import { timeline, type Timeline } from './timeline';
import { toolCallCards, type ToolCallCard } from './tool-calls';
import { triage, type Triage } from './triage';

/** Everything the run page draws besides the transcript, derived from the run's events alone. */
export interface RunModel {
  pattern: string | null;
  graph: PatternGraph | null;
  timeline: Timeline;
  plan: MagenticPlan | null;
  toolCalls: ToolCallCard[];
  triage: Triage | null;
  actions: Record<RunActionName, RunActionState>;
  /** Re-routing a handoff run to another agent (the run page's Re-route panel). */
  reroute: RunActionState;
}

export function runModel(
  events: readonly RunEventLike[],
  context: {
    me: { id: string; roles: readonly string[] };
    now: number;
    /** The server's view of the run, when the page has it; else the events say. */
    status?: string;
    requestedBy?: string;
    /** The server's failure, when the run failed; else the last `run.failed` says. */
    failureCode?: string;
  },
): RunModel {
  const workflow = startedWorkflow(events);
  const status = context.status ?? statusOf(events);
  const started = events.find((e) => e.type === 'run.started');
  const requestedBy =
    context.requestedBy ?? (started?.data as { requestedBy?: string } | undefined)?.requestedBy ?? '';
  let failureCode = context.failureCode;
  if (failureCode === undefined)
    for (const e of events) {
      const failed = dataOf(e, 'run.failed');
      if (failed) failureCode = failed.code;
      else if (e.type === 'run.retried') failureCode = undefined;
    }
  const routeReview = requestHistories(events).find((r) => r.status === 'open' && r.subject.type === 'route');
  return {
    pattern: workflow?.pattern ?? null,
    graph: patternGraph(events, status),
    timeline: timeline(events, context.now, status),
    plan: workflow?.pattern === 'magentic' ? magenticPlan(events) : null,
    toolCalls: toolCallCards(events),
    triage: triage(events),
    actions: runActions(
      workflow,
      { status, requestedBy, ...(status === 'failed' && failureCode ? { failureCode } : {}) },
      context.me,
    ),
    reroute: rerouteAction(
      workflow,
      { status, requestedBy, ...(routeReview ? { openRouteReviewRoles: routeReview.roles } : {}) },
      context.me,
    ),
  };
}
