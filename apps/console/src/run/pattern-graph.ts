import {
  dataOf,
  ENDED_STATUSES,
  requestHistories,
  type RunEventLike,
  type Subject,
  type Workflow,
} from './run-events';

/**
 * The run's pattern as a graph: who works after whom (stages), side by side (workers), around a
 * table (participants), under whom (specialists), against whom (maker and checker), and where humans
 * sit in it; each node lit by what the events say it is doing now.
 */
export type NodeState = 'idle' | 'active' | 'waiting' | 'done' | 'failed';

export interface GraphNode {
  id: string;
  label: string;
  kind: 'agent' | 'human';
  /** What the node is in its pattern: `stage 1`, `worker`, `aggregator`, `manager`, `specialist`, ... */
  part: string;
  state: NodeState;
  column: number;
  row: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** The run went this way (a handoff, a human's re-route). */
  taken: boolean;
  label?: string;
}

export interface PatternGraph {
  pattern: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  columns: number;
  rows: number;
  /** The nodes lit now: agents at work, humans waited on. Empty once the run ended. */
  current: string[];
}

export const agentNode = (name: string): string => `agent:${name}`;

/** The human node that answers a request about `subject` (one per gate of the pattern). */
export function humanNodeFor(subject: Subject): string {
  switch (subject.type) {
    case 'stage':
      return `human:stage-${subject.index}`;
    case 'tool-call':
    case 'escalation':
      return 'human:approvals';
    case 'draft':
      return 'human:checker';
    case 'floor':
      return 'human:seat';
    default:
      return `human:${subject.type}`;
  }
}

interface Layout {
  nodes: Array<Omit<GraphNode, 'state'>>;
  edges: Array<Omit<GraphEdge, 'taken'>>;
}

function layout(w: Workflow): Layout {
  const nodes: Layout['nodes'] = [];
  const edges: Layout['edges'] = [];
  const agent = (name: string, part: string, column: number, row: number): string => {
    const id = agentNode(name);
    if (!nodes.some((n) => n.id === id)) nodes.push({ id, label: name, kind: 'agent', part, column, row });
    return id;
  };
  const human = (id: string, label: string, part: string, column: number, row: number): string => {
    nodes.push({ id: `human:${id}`, label, kind: 'human', part, column, row });
    return `human:${id}`;
  };
  const roles = (g: { roles: string[] }): string => g.roles.join(', ');
  switch (w.pattern) {
    case 'single-agent':
      agent(w.agent, 'agent', 0, 0);
      break;
    case 'sequential': {
      let column = 0;
      let previous: string | null = null;
      w.stages.forEach((stage, i) => {
        const id = agent(stage.agent, `stage ${i + 1}`, column++, 0);
        if (previous) edges.push({ from: previous, to: id });
        previous = id;
        if (stage.review) {
          const review = human(`stage-${i}`, roles(stage.review), `review of stage ${i + 1}`, column++, 0);
          edges.push({ from: id, to: review });
          previous = review;
        }
      });
      break;
    }
    case 'concurrent': {
      const aggregator = agentNode(w.aggregator);
      w.workers.forEach((name, i) => edges.push({ from: agent(name, 'worker', 0, i), to: aggregator }));
      const row = (w.workers.length - 1) / 2;
      agent(w.aggregator, 'aggregator', 1, row);
      if (w.validation)
        edges.push({ from: aggregator, to: human('result', roles(w.validation), 'validation', 2, row) });
      break;
    }
    case 'group-chat': {
      const manager = w.selection === 'manager' && w.manager ? agent(w.manager, 'manager', 0, 0) : null;
      const seats = w.participants.map((name, i) => agent(name, 'participant', 1, i));
      if (w.humanSeat) seats.push(human('seat', roles(w.humanSeat), 'human seat', 1, w.participants.length));
      if (manager) for (const s of seats) edges.push({ from: manager, to: s, label: 'selects' });
      else seats.forEach((s, i) => edges.push({ from: s, to: seats[(i + 1) % seats.length] }));
      break;
    }
    case 'handoff': {
      const triage = agent(w.triage, 'triage', 0, (w.specialists.length - 1) / 2);
      const via = w.routeReview
        ? human('route', roles(w.routeReview), 'route review', 1, (w.specialists.length - 1) / 2)
        : triage;
      if (via !== triage) edges.push({ from: triage, to: via });
      w.specialists.forEach((name, i) =>
        edges.push({ from: via, to: agent(name, 'specialist', w.routeReview ? 2 : 1, i) }),
      );
      break;
    }
    case 'magentic': {
      const mid = (w.specialists.length - 1) / 2;
      let column = 0;
      const manager = agentNode(w.manager);
      if (w.planApproval) {
        const plan = human('plan', roles(w.planApproval), 'plan approval', column++, mid);
        edges.push({ from: manager, to: plan, label: 'plan' });
      }
      agent(w.manager, 'manager', column++, mid);
      for (const [i, name] of w.specialists.entries())
        edges.push({ from: manager, to: agent(name, 'specialist', column, i), label: 'task' });
      column++;
      if (w.findingsReview)
        edges.push({
          from: manager,
          to: human('findings', roles(w.findingsReview), 'findings review', column, mid),
          label: 'findings',
        });
      break;
    }
    case 'maker-checker': {
      const maker = agent(w.maker, 'maker', 0, 0);
      const checker =
        typeof w.checker === 'string'
          ? agent(w.checker, 'checker', 1, 0)
          : human('checker', roles(w.checker.human), 'checker', 1, 0);
      edges.push({ from: maker, to: checker, label: 'draft' });
      edges.push({ from: checker, to: maker, label: 'revise' });
      break;
    }
  }
  // the tool gates: approvals and escalations answered by humans
  if (w.policies.approvals.length > 0 || w.policies.escalations.length > 0) {
    const column = Math.max(...nodes.map((n) => n.column)) + 1;
    const roleSet = [
      ...new Set([...w.policies.approvals, ...w.policies.escalations].flatMap((p) => p.roles)),
    ];
    human('approvals', roleSet.join(', '), 'tool approvals', column, 0);
    for (const a of w.agents)
      if (a.tools.length > 0 && nodes.some((n) => n.id === agentNode(a.name)))
        edges.push({ from: agentNode(a.name), to: 'human:approvals', label: 'tool calls' });
  }
  return { nodes, edges };
}

/** The graph of the run's workflow (from its `run.started`), lit from its events. */
export function patternGraph(events: readonly RunEventLike[], status: string): PatternGraph | null {
  const started = events.find((e) => e.type === 'run.started');
  const workflow = started && dataOf(started, 'run.started')?.workflow;
  if (!workflow) return null;
  const { nodes, edges } = layout(workflow);
  const ended = ENDED_STATUSES.has(status);

  // agents: a model call open (started, not yet completed or failed) is work in progress
  const open = new Map<string, string>(); // callId -> agent
  const state = new Map<string, NodeState>();
  for (const e of events) {
    const startedCall = dataOf(e, 'model-call.started');
    const completed = dataOf(e, 'model-call.completed');
    const failed = dataOf(e, 'model-call.failed');
    if (startedCall) open.set(startedCall.callId, startedCall.agent);
    if (completed) {
      open.delete(completed.callId);
      state.set(agentNode(completed.agent), 'done');
    }
    if (failed) {
      open.delete(failed.callId);
      state.set(agentNode(failed.agent), 'failed');
    }
  }
  if (!ended) for (const agent of open.values()) state.set(agentNode(agent), 'active');

  // humans: a request open on their gate is a wait
  for (const r of requestHistories(events)) {
    const id = humanNodeFor(r.subject);
    if (!nodes.some((n) => n.id === id)) {
      const column = Math.max(...nodes.map((n) => n.column)) + 1;
      nodes.push({ id, label: r.roles.join(', '), kind: 'human', part: r.kind, column, row: 0 });
    }
    if (r.status === 'open' && !ended) state.set(id, 'waiting');
    else if (state.get(id) !== 'waiting') state.set(id, 'done');
  }

  // the routes taken: handoffs, and the humans' re-routes
  const taken = new Set<string>();
  let from: string | null = null;
  for (const e of events) {
    const handoff = dataOf(e, 'handoff.performed');
    const override = dataOf(e, 'handoff.overridden');
    if (handoff) {
      from = agentNode(handoff.from);
      taken.add(`${from}>${agentNode(handoff.to)}`);
      taken.add(`${from}>human:route`);
      taken.add(`human:route>${agentNode(handoff.to)}`);
    }
    if (override) {
      taken.add(`human:route>${agentNode(override.to)}`);
      if (from) taken.add(`${from}>${agentNode(override.to)}`);
    }
  }
  // a handoff run's specialist holds the conversation until it hands back: lit while the run runs
  const current = ended
    ? []
    : nodes.map((n) => n.id).filter((id) => state.get(id) === 'active' || state.get(id) === 'waiting');

  return {
    pattern: workflow.pattern,
    nodes: nodes.map((n) => ({ ...n, state: state.get(n.id) ?? 'idle' })),
    edges: edges.map((e) => ({ ...e, taken: taken.has(`${e.from}>${e.to}`) })),
    columns: Math.max(...nodes.map((n) => n.column)) + 1,
    rows: Math.ceil(Math.max(...nodes.map((n) => n.row))) + 1,
    current,
  };
}
