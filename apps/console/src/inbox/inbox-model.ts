import type { RequestSummaryPayload as RequestSummary } from '@parley/contracts/socket/socket.schemas';

/** The inbox's filters, search and order (all in the page; nothing is sent to the server). */
export interface InboxFilter {
  kind: string;
  role: string;
  workflow: string;
  runId: string;
  mine: boolean;
  expiring: boolean;
  search: string;
  sort: 'deadline' | 'age';
}

export const NO_FILTER: InboxFilter = {
  kind: '',
  role: '',
  workflow: '',
  runId: '',
  mine: false,
  expiring: false,
  search: '',
  sort: 'deadline',
};

/** "Expiring soon": the deadline is less than this far away. */
export const EXPIRING_SOON_MS = 15 * 60_000;

export interface RunGroup {
  runId: string;
  workflow: string;
  requests: RequestSummary[];
}

/** The requests the filters let through, ordered, grouped by run (a group sits where its first request does). */
export function inboxView(
  requests: readonly RequestSummary[],
  filter: InboxFilter,
  context: { me: string; now: number },
): RunGroup[] {
  const q = filter.search.trim().toLowerCase();
  const shown = requests.filter(
    (r) =>
      (!filter.kind || r.kind === filter.kind) &&
      (!filter.role || r.roles.includes(filter.role)) &&
      (!filter.workflow || r.workflow === filter.workflow) &&
      (!filter.runId || r.runId === filter.runId) &&
      (!filter.mine || r.claimedBy === context.me) &&
      (!filter.expiring ||
        (r.deadline !== null && Date.parse(r.deadline) - context.now < EXPIRING_SOON_MS)) &&
      (!q ||
        [r.title, r.ask, r.kind, r.runId, r.id, r.workflow, r.claimedBy ?? ''].some((f) =>
          f.toLowerCase().includes(q),
        )),
  );
  const byDeadline = (a: RequestSummary, b: RequestSummary): number =>
    (a.deadline ?? '9').localeCompare(b.deadline ?? '9') || a.createdAt.localeCompare(b.createdAt);
  const byAge = (a: RequestSummary, b: RequestSummary): number => a.createdAt.localeCompare(b.createdAt);
  shown.sort(filter.sort === 'deadline' ? byDeadline : byAge);
  const groups = new Map<string, RunGroup>();
  for (const r of shown) {
    const group = groups.get(r.runId) ?? {
      runId: r.runId,
      workflow: r.workflow,
      requests: [],
    };
    group.requests.push(r);
    groups.set(r.runId, group);
  }
  return [...groups.values()];
}

/** How many groups the list draws at most; the rest are counted ("N more — narrow the filters"). */
export const SHOWN_GROUPS = 200;

/** The first `max` groups, and how many requests the groups past them hold. */
export function capGroups(groups: RunGroup[], max = SHOWN_GROUPS): { shown: RunGroup[]; hidden: number } {
  if (groups.length <= max) return { shown: groups, hidden: 0 };
  let hidden = 0;
  for (let i = max; i < groups.length; i++) hidden += groups[i].requests.length;
  return { shown: groups.slice(0, max), hidden };
}

/** Every value of a field among the requests, sorted (for the filter choices). */
export function choices(values: Iterable<string | undefined>): string[] {
  return [...new Set([...values].filter((v): v is string => Boolean(v)))].sort();
}
