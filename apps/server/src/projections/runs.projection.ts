import type {
  RequestSummaryPayload,
  RunEvent,
  RunSummary,
  RunTraceContext,
  StoredEvent,
} from '@parley/contracts';
import { INBOX_SORTS, inboxKey, upcast, ValidationError, type InboxSort } from '@parley/contracts';
import type { EventStore, Subscription } from '@parley/event-store';
import {
  indexAfter,
  pageRequests,
  type Keyed,
  type RequestsPageResult,
  type RequestsQuery,
} from './requests-query';

/** What `GET /api/runs` asks of the projection (the parsed `ListRunsQuery`). */
export interface RunsPageQuery {
  status?: string;
  workflow?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

const TITLE_MAX = 120;

/** A run's title: the first non-empty line of its input, at most 120 characters. */
export function titleOf(input: string): string {
  const line = input.split('\n').find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > TITLE_MAX ? `${trimmed.slice(0, TITLE_MAX - 1)}…` : trimmed;
}

function countKey(status?: string, workflow?: string): string {
  return `${status ?? '*'}\u0000${workflow ?? '*'}`;
}

function compareKey(run: RunSummary, createdAt: string, runId: string): number {
  if (run.createdAt !== createdAt) return run.createdAt < createdAt ? -1 : 1;
  return run.runId < runId ? -1 : run.runId > runId ? 1 : 0;
}

function encodeCursor(run: RunSummary): string {
  return Buffer.from(`${run.createdAt}\u0000${run.runId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; runId: string } | undefined {
  const [createdAt, runId, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('\u0000');
  if (!createdAt || !runId || extra !== undefined) return undefined;
  return { createdAt, runId };
}

/** A run as lists show it: the wire schema of `libs/contracts`. */
export type { RunSummary };

/** A request as lists and the inbox show it: the wire schema of `libs/contracts` (socket and REST alike). */
export type RequestSummary = RequestSummaryPayload;

/** A change of the read model; a request's comes with its state `before` (none when it opened). */
export type ProjectionChange =
  { type: 'request'; request: RequestSummary; before?: RequestSummary } | { type: 'run'; run: RunSummary };
type Listener = (change: ProjectionChange) => void;

/**
 * What the projection holds at `position`, as plain data: what `read-model-checkpoint.ts` keeps
 * across a clean restart. Each request once (`requests`); the orders by id, as they were.
 */
export interface ProjectionState {
  position: number;
  /** The event at `position`: the log must still hold it for the state to be used. */
  last?: { runId: string; seq: number; hash: string };
  /** In the order they were added. */
  runs: RunSummary[];
  requests: RequestSummary[];
  requestsByRun: Array<[runId: string, requestIds: string[]]>;
  openOrdered: Record<InboxSort, string[]>;
  idempotency: Array<[key: string, runId: string]>;
  traces: Array<[runId: string, trace: RunTraceContext]>;
}

/**
 * The read model behind lists and the inbox: a compact summary per run and per human request,
 * built from the global log at start-up and kept live by a subscription. Commands never validate
 * against it (they fold the run's own stream); it only answers queries and finds a request's run.
 */
export class RunsProjection {
  private readonly runs = new Map<string, RunSummary>();
  /** Every run ordered oldest first by (createdAt, runId): pages walk it from the end, no sort per query. */
  private readonly ordered: RunSummary[] = [];
  /** How many runs per status, per workflow, and per workflow and status: `total` without a scan. */
  private readonly counts = new Map<string, number>();
  private readonly requests = new Map<string, RequestSummary>();
  /** The open requests in each of the inbox's orders: pages walk them, no sort per query. */
  private readonly openOrdered: Record<InboxSort, Keyed[]> = { deadline: [], age: [] };
  /** Every request of a run (a few each): a page shows a run's requests together. */
  private readonly requestsByRun = new Map<string, RequestSummary[]>();
  private readonly idempotency = new Map<string, string>();
  /** The trace context `run.started` recorded (tracing on), by run: log lines and command spans use it. */
  private readonly traces = new Map<string, RunTraceContext>();
  private subscription?: Subscription;
  private position = 0;
  private last?: ProjectionState['last'];
  /** Whether `start` was called (a state worth keeping at shutdown). */
  started = false;
  private readonly waiters: Array<{ position: number; resolve: () => void }> = [];
  private readonly listeners = new Set<Listener>();

  constructor(private readonly store: EventStore) {}

  /**
   * Resolves when everything stored so far is applied: from the log's start, or from `from` (a
   * state this projection exported, checked by the caller against the log) and the events after it.
   */
  async start(from?: ProjectionState): Promise<void> {
    this.started = true;
    if (from) this.restore(from);
    const target = await this.store.lastPosition();
    this.subscription = this.store.subscribe(this.position, (stored) => this.apply(stored));
    await this.subscription.ready;
    await this.caughtUp(target);
  }

  /** What the projection holds now, as plain data (the objects themselves: serialise it before changing anything). */
  exportState(): ProjectionState {
    return {
      position: this.position,
      last: this.last,
      runs: [...this.runs.values()],
      requests: [...this.requests.values()],
      requestsByRun: [...this.requestsByRun].map(([runId, requests]) => [runId, requests.map((r) => r.id)]),
      openOrdered: Object.fromEntries(
        INBOX_SORTS.map((sort) => [sort, this.openOrdered[sort].map((k) => k.request.id)]),
      ) as Record<InboxSort, string[]>,
      idempotency: [...this.idempotency],
      traces: [...this.traces],
    };
  }

  /** The projection as `state` says (before it follows the log), with the indexes rebuilt. */
  private restore(state: ProjectionState): void {
    this.position = state.position;
    this.last = state.last;
    for (const run of state.runs) {
      this.runs.set(run.runId, run);
      this.count(run, 1);
    }
    this.ordered.push(...state.runs);
    this.ordered.sort((a, b) => compareKey(a, b.createdAt, b.runId));
    for (const request of state.requests) this.requests.set(request.id, request);
    const request = (id: string): RequestSummary => {
      const found = this.requests.get(id);
      if (!found) throw new Error(`the state names a request it does not hold (${id})`);
      return found;
    };
    for (const [runId, ids] of state.requestsByRun) this.requestsByRun.set(runId, ids.map(request));
    for (const sort of INBOX_SORTS)
      this.openOrdered[sort] = state.openOrdered[sort].map((id) => {
        const r = request(id);
        return { key: inboxKey(r, sort), request: r };
      });
    for (const [key, runId] of state.idempotency) this.idempotency.set(key, runId);
    for (const [runId, trace] of state.traces) this.traces.set(runId, trace);
  }

  stop(): void {
    this.subscription?.close();
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when everything stored until now is applied. */
  async caughtUpWithStore(): Promise<void> {
    await this.caughtUp(await this.store.lastPosition());
  }

  caughtUp(position: number): Promise<void> {
    if (this.position >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  run(runId: string): RunSummary | undefined {
    return this.runs.get(runId);
  }

  /**
   * One page of runs, newest first by start time then run id. The cursor names the last run of the
   * page before, so a page never repeats or skips a run when new runs start in between.
   */
  pageRuns(query: RunsPageQuery = {}): { runs: RunSummary[]; total: number; nextCursor?: string } {
    const limit = query.limit ?? 50;
    const q = query.q?.trim().toLowerCase();
    const matches = (r: RunSummary) =>
      (!query.status || r.status === query.status) &&
      (!query.workflow || r.workflow === query.workflow) &&
      (!q ||
        r.runId.toLowerCase().includes(q) ||
        r.workflow.toLowerCase().includes(q) ||
        (r.title ?? '').toLowerCase().includes(q));
    let start = this.ordered.length - 1;
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      if (!after)
        throw new ValidationError('REQUEST.INVALID_QUERY', 'cursor is not one this server gave', 'cursor');
      start = this.indexBelow(after.createdAt, after.runId);
    }
    const runs: RunSummary[] = [];
    let i = start;
    for (; i >= 0 && runs.length < limit; i--) if (matches(this.ordered[i])) runs.push(this.ordered[i]);
    let more = false;
    for (let j = i; j >= 0; j--)
      if (matches(this.ordered[j])) {
        more = true;
        break;
      }
    const last = runs[runs.length - 1];
    let total: number;
    if (q) {
      total = 0;
      for (const r of this.ordered) if (matches(r)) total++;
    } else total = this.counts.get(countKey(query.status, query.workflow)) ?? 0;
    return { runs, total, nextCursor: more && last ? encodeCursor(last) : undefined };
  }

  /** The index of the newest run strictly older than (createdAt, runId), -1 when there is none. */
  private indexBelow(createdAt: string, runId: string): number {
    let lo = 0;
    let hi = this.ordered.length; // first index whose key is >= the given key
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKey(this.ordered[mid], createdAt, runId) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  private insertOrdered(run: RunSummary): void {
    const at = this.indexBelow(run.createdAt, run.runId) + 1;
    if (at === this.ordered.length) this.ordered.push(run);
    else this.ordered.splice(at, 0, run);
  }

  private count(run: RunSummary, by: number): void {
    for (const key of [
      countKey(),
      countKey(run.status),
      countKey(undefined, run.workflow),
      countKey(run.status, run.workflow),
    ])
      this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  listRuns(filter: { status?: string; workflow?: string } = {}): RunSummary[] {
    return [...this.runs.values()]
      .filter(
        (r) =>
          (!filter.status || r.status === filter.status) &&
          (!filter.workflow || r.workflow === filter.workflow),
      )
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** The trace context the run's `run.started` recorded, if any. */
  traceOf(runId: string): RunTraceContext | undefined {
    return this.traces.get(runId);
  }

  request(id: string): RequestSummary | undefined {
    return this.requests.get(id);
  }

  listRequests(filter: { status?: string; kind?: string; runId?: string } = {}): RequestSummary[] {
    return [...this.requests.values()]
      .filter(
        (r) =>
          (!filter.status || r.status === filter.status) &&
          (!filter.kind || r.kind === filter.kind) &&
          (!filter.runId || r.runId === filter.runId),
      )
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The requests of a run, any status. */
  requestsOfRun(runId: string): readonly RequestSummary[] {
    return this.requestsByRun.get(runId) ?? [];
  }

  /**
   * One page of the inbox (see `pageRequests`): the requests of the query's status (open by default)
   * that are `inScope` for `me` and match the query, whole runs, in the query's order.
   */
  pageRequests(
    query: RequestsQuery,
    context: { me: string; inScope: (r: RequestSummary) => boolean },
  ): RequestsPageResult {
    const sort = query.sort ?? 'deadline';
    const status = query.status ?? 'open';
    const ordered =
      status === 'open'
        ? this.openOrdered[sort]
        : [...this.requests.values()]
            .filter((r) => r.status === status)
            .map((request) => ({ request, key: inboxKey(request, sort) }))
            .sort((a, b) => (a.key < b.key ? -1 : 1));
    return pageRequests(ordered, query, { ...context, ofRun: (runId) => this.requestsOfRun(runId) });
  }

  private openRequest(request: RequestSummary): void {
    const previous = this.requests.get(request.id);
    if (previous) this.forgetRequest(previous);
    this.requests.set(request.id, request);
    const ofRun = this.requestsByRun.get(request.runId);
    if (ofRun) ofRun.push(request);
    else this.requestsByRun.set(request.runId, [request]);
    for (const sort of INBOX_SORTS) {
      const ordered = this.openOrdered[sort];
      const key = inboxKey(request, sort);
      ordered.splice(indexAfter(ordered, key), 0, { key, request });
    }
  }

  /** A request that is no longer open leaves the open orders. */
  private unorder(request: RequestSummary): void {
    for (const sort of INBOX_SORTS) {
      const ordered = this.openOrdered[sort];
      const at = indexAfter(ordered, inboxKey(request, sort)) - 1;
      if (at >= 0 && ordered[at].request === request) ordered.splice(at, 1);
    }
  }

  private forgetRequest(request: RequestSummary): void {
    this.unorder(request);
    const ofRun = this.requestsByRun.get(request.runId);
    if (ofRun)
      this.requestsByRun.set(
        request.runId,
        ofRun.filter((r) => r !== request),
      );
  }

  runForIdempotencyKey(key: string): string | undefined {
    return this.idempotency.get(key);
  }

  /** Runs that were being driven when the process stopped: neither waiting nor ended. */
  runningRuns(): string[] {
    return [...this.runs.values()].filter((r) => r.status === 'running').map((r) => r.runId);
  }

  private apply(stored: StoredEvent): void {
    this.position = stored.position;
    this.last = { runId: stored.event.runId, seq: stored.event.seq, hash: stored.event.hash };
    let event: RunEvent | undefined;
    try {
      event = upcast(stored.event);
    } catch {
      event = undefined; // a type this version does not know: skipped, but its position counts
    }
    if (event) this.applyEvent(event);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].position <= this.position) this.waiters.splice(i, 1)[0].resolve();
    }
  }

  private applyEvent(event: RunEvent): void {
    if (event.type === 'run.started') {
      const run: RunSummary = {
        runId: event.runId,
        workflow: event.data.workflow.name,
        pattern: event.data.workflow.pattern,
        status: 'running',
        requestedBy: event.data.requestedBy,
        createdAt: event.at,
        updatedAt: event.at,
        seq: event.seq,
        openRequests: 0,
        currentAgent: event.data.workflow.pattern === 'handoff' ? event.data.workflow.triage : undefined,
        title: titleOf(event.data.input),
        waitingOn: [],
      };
      if (this.runs.has(event.runId)) return;
      this.runs.set(event.runId, run);
      this.insertOrdered(run);
      this.count(run, 1);
      if (event.data.trace) this.traces.set(event.runId, event.data.trace);
      if (event.data.idempotencyKey)
        this.idempotency.set(`${event.data.requestedBy}\u0000${event.data.idempotencyKey}`, event.runId);
      this.emit({ type: 'run', run });
      return;
    }
    const run = this.runs.get(event.runId);
    if (!run) return;
    const statusBefore = run.status;
    run.seq = event.seq;
    run.updatedAt = event.at;
    let changed: RequestSummary | undefined;
    let before: RequestSummary | undefined;
    const changing = (id: string): RequestSummary | undefined => {
      const request = this.requests.get(id);
      if (request) before = { ...request };
      return request;
    };
    switch (event.type) {
      case 'run.completed':
        run.status = 'completed';
        break;
      case 'run.failed':
        run.status = 'failed';
        break;
      case 'run.cancelled':
        run.status = 'cancelled';
        break;
      case 'run.retried':
        run.status = 'running'; // a failed run continues (waiting again if a request is open)
        break;
      case 'handoff.performed':
      case 'handoff.overridden':
        run.currentAgent = event.data.to;
        break;
      case 'human-request.opened':
        changed = {
          id: event.data.requestId,
          runId: event.runId,
          workflow: run.workflow,
          kind: event.data.kind,
          status: 'open',
          title: event.data.title,
          ask: event.data.ask,
          roles: event.data.roles,
          createdAt: event.at,
          deadline: event.data.deadline,
        };
        this.openRequest(changed);
        run.openRequests += 1;
        run.waitingOn = [
          ...(run.waitingOn ?? []),
          { requestId: changed.id, kind: changed.kind, roles: changed.roles },
        ];
        break;
      case 'human-request.claimed':
        changed = changing(event.data.requestId);
        if (changed) changed.claimedBy = event.data.by.id;
        break;
      case 'human-request.released':
        changed = changing(event.data.requestId);
        if (changed) delete changed.claimedBy;
        break;
      case 'human-request.resolved':
      case 'human-request.expired':
      case 'human-request.closed':
        changed = changing(event.data.requestId);
        if (changed && changed.status === 'open') {
          this.unorder(changed);
          changed.status =
            event.type === 'human-request.resolved'
              ? 'resolved'
              : event.type === 'human-request.expired'
                ? 'expired'
                : 'closed';
          changed.closedAt = event.at;
          changed.outcome =
            event.type === 'human-request.resolved'
              ? event.data.outcome
              : event.type === 'human-request.expired'
                ? event.data.action
                : `run ${event.data.because}`;
          run.openRequests -= 1;
          const closedId = changed.id;
          run.waitingOn = (run.waitingOn ?? []).filter((w) => w.requestId !== closedId);
        }
        break;
      default:
        break;
    }
    if (run.status !== 'completed' && run.status !== 'failed' && run.status !== 'cancelled') {
      run.status = run.openRequests > 0 ? 'waiting' : 'running';
    }
    if (run.status !== statusBefore) {
      const now = run.status;
      run.status = statusBefore;
      this.count(run, -1);
      run.status = now;
      this.count(run, 1);
    }
    if (changed) this.emit({ type: 'request', request: changed, before });
    this.emit({ type: 'run', run });
  }

  private emit(change: Parameters<Listener>[0]): void {
    for (const listener of this.listeners) listener(change);
  }
}
