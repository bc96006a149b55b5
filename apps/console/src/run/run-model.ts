import { magenticPlan, type MagenticPlan } from './magentic-plan';
import { patternGraph, type PatternGraph } from './pattern-graph';
import { runActions, type RunActionName, type RunActionState } from './run-actions';
import { startedWorkflow, statusOf, type RunEventLike } from './run-events';
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
}

export function runModel(
  events: readonly RunEventLike[],
  context: {
    me: { id: string; roles: readonly string[] };
    now: number;
    /** The server's view of the run, when the page has it; else the events say. */
    status?: string;
    requestedBy?: string;
  },
): RunModel {
  const workflow = startedWorkflow(events);
  const status = context.status ?? statusOf(events);
  const started = events.find((e) => e.type === 'run.started');
  const requestedBy =
    context.requestedBy ?? (started?.data as { requestedBy?: string } | undefined)?.requestedBy ?? '';
  return {
    pattern: workflow?.pattern ?? null,
    graph: patternGraph(events, status),
    timeline: timeline(events, context.now, status),
    plan: workflow?.pattern === 'magentic' ? magenticPlan(events) : null,
    toolCalls: toolCallCards(events),
    triage: triage(events),
    actions: runActions(workflow, { status, requestedBy }, context.me),
  };
}
