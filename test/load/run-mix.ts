/**
 * A mix of runs with humans in the loop, for the load and soak tests: what to start, who answers
 * each human point, and what the finished run must look like (its stored events, the ledger).
 *
 * The humans are real socket.io clients following their inbox (`inbox:watch`, `inbox:changed`),
 * who decide over REST as soon as a request of a run assigned to them opens.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import {
  REQUESTS_PAGE_MAX,
  verifyChain,
  type EventEnvelope,
  type RequestSummaryPayload,
} from '@parley/contracts';
import { TEST_USERS, type HttpClient, type ParleyProcess, type TestUser } from '@parley/testing';

export type RunKind = 'refund-approve' | 'refund-reject' | 'refund-small' | 'content' | 'debate';

/** i % 10 → kind: 3 approved refunds, 1 rejected, 1 small (no approval), 3 pipelines, 2 debates. */
const KINDS: RunKind[] = [
  'refund-approve',
  'content',
  'debate',
  'refund-reject',
  'refund-approve',
  'content',
  'refund-small',
  'refund-approve',
  'content',
  'debate',
];

/** One run of the mix, and what happened to it. */
export interface PlannedRun {
  i: number;
  kind: RunKind;
  workflow: string;
  input: string;
  requester: TestUser;
  /** Who answers the run's human points, in order. */
  deciders: TestUser[];
  amount?: number;
  runId?: string;
  /** Round trip of POST /api/runs, ms. */
  startMs?: number;
  /** Date.now() when the last decision was sent. */
  lastDecisionAt?: number;
  decided: number;
  /** Problems found; empty when the run is as expected. */
  problems: string[];
}

export function planRun(i: number): PlannedRun {
  const kind = KINDS[i % KINDS.length];
  const requester: TestUser = i % 2 ? 'maya' : 'carol';
  const approver: TestUser = Math.floor(i / 10) % 2 ? 'bob' : 'alice';
  const other: TestUser = approver === 'alice' ? 'bob' : 'alice';
  const tag = `${i}-${randomUUID().slice(0, 6)}`;
  const base = { i, requester, decided: 0, problems: [] };
  switch (kind) {
    case 'refund-approve':
    case 'refund-reject': {
      const amount = 101 + (i % 399);
      return {
        ...base,
        kind,
        workflow: 'refund-desk',
        amount,
        input: `Please refund $${amount} for order #L${tag}`,
        deciders: [approver],
      };
    }
    case 'refund-small': {
      const amount = 5 + (i % 90);
      return {
        ...base,
        kind,
        workflow: 'refund-desk',
        amount,
        input: `Please refund $${amount} for order #S${tag}`,
        deciders: [],
      };
    }
    case 'content':
      return {
        ...base,
        kind,
        workflow: 'content-pipeline',
        input: `Why event logs suit agents (${tag})`,
        deciders: [approver, other], // two reviews, two different humans
      };
    case 'debate':
      return {
        ...base,
        kind,
        workflow: 'debate',
        input: `Load tests should run every night (${tag})`,
        deciders: [requester === 'carol' ? 'maya' : 'carol'],
      };
  }
}

/**
 * Start a planned run over REST; records its id and the round trip. Every fourth run is started
 * with an idempotency key and sent twice at once (a client retrying): one run, one 201, one 200.
 */
export async function startRun(server: ParleyProcess, run: PlannedRun): Promise<void> {
  const api = server.client(run.requester);
  const body = { workflow: run.workflow, input: run.input };
  const t0 = Date.now();
  if (run.i % 4 !== 0) {
    const res = await api.post('/api/runs', body);
    run.startMs = Date.now() - t0;
    if (res.status !== 201)
      throw new Error(`start ${run.workflow} #${run.i}: ${res.status} ${JSON.stringify(res.body)}`);
    run.runId = res.body.runId as string;
    return;
  }
  const keyed = { ...body, idempotencyKey: `load-${run.i}-${randomUUID()}` };
  const [first, retry] = await Promise.all([api.post('/api/runs', keyed), api.post('/api/runs', keyed)]);
  run.startMs = Date.now() - t0;
  const statuses = [first.status, retry.status].sort().join();
  if (statuses !== '200,201' || first.body.runId !== retry.body.runId)
    throw new Error(
      `start ${run.workflow} #${run.i} twice with one key: ${first.status} ${JSON.stringify(first.body)}, ${retry.status} ${JSON.stringify(retry.body)}`,
    );
  run.runId = first.body.runId as string;
}

/**
 * The humans: one socket.io client per decider, following its inbox. A request of a run in `runs`
 * is answered by the run's next decider: an approval approved (or rejected), a review approved,
 * the debate's floor taken with a message. Each request is answered once.
 */
export class Humans {
  private readonly sockets: Socket[] = [];
  private readonly answered = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  readonly runs = new Map<string, PlannedRun>();
  private readonly early = new Map<string, [TestUser, RequestSummaryPayload][]>();
  readonly errors: string[] = [];
  decisions = 0;

  constructor(private readonly server: ParleyProcess) {}

  async connect(users: TestUser[] = ['alice', 'bob', 'carol', 'maya']): Promise<void> {
    await Promise.all(
      users.map(async (user) => {
        const socket = io(this.server.url, {
          auth: { token: TEST_USERS[user].token },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          timeout: 30_000,
        });
        this.sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        // a change of what the watcher's page lists (`listed`), or of the counts alone (no request)
        socket.on(
          'inbox:changed',
          ({ request, listed }: { request?: RequestSummaryPayload; listed?: boolean }) => {
            if (request && listed) this.offer(user, request);
          },
        );
        // the largest page, oldest first: every request this test opens fits on it
        const ack = (await socket
          .timeout(30_000)
          .emitWithAck('inbox:watch', { sort: 'age', limit: REQUESTS_PAGE_MAX })) as {
          ok: boolean;
          requests: RequestSummaryPayload[];
        };
        if (!ack.ok) throw new Error(`inbox:watch as ${user}: ${JSON.stringify(ack)}`);
        for (const request of ack.requests) this.offer(user, request);
      }),
    );
  }

  /** Add a started run: its requests are answered from now on, and those that opened before. */
  track(run: PlannedRun): void {
    this.runs.set(run.runId!, run);
    const early = this.early.get(run.runId!) ?? [];
    this.early.delete(run.runId!);
    for (const [user, request] of early) this.offer(user, request);
  }

  /** Forget a finished run. */
  untrack(run: PlannedRun): void {
    this.runs.delete(run.runId!);
  }

  /** Wait for the decisions sent so far to be answered. */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }

  /** An open request reached `user`'s inbox: answer it if it is theirs to answer. */
  offer(user: TestUser, request: RequestSummaryPayload): void {
    if (request.status !== 'open' || this.answered.has(request.id)) return;
    const run = this.runs.get(request.runId);
    if (!run) {
      // the request opened before POST /api/runs answered with the run's id: kept for `track`
      const early = this.early.get(request.runId) ?? [];
      early.push([user, request]);
      this.early.set(request.runId, early);
      return;
    }
    if (run.deciders[run.decided] !== user) return;
    this.answered.add(request.id);
    run.decided += 1;
    const task = this.answer(user, run, request)
      .catch((error: unknown) => {
        this.errors.push(`run #${run.i} ${run.kind}, request ${request.kind} by ${user}: ${String(error)}`);
      })
      .finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  private async answer(user: TestUser, run: PlannedRun, request: RequestSummaryPayload): Promise<void> {
    const api: HttpClient = this.server.client(user);
    run.lastDecisionAt = Date.now();
    this.decisions += 1;
    if (request.kind === 'input') {
      const res = await api.post(`/api/runs/${run.runId}/messages`, {
        text: `From the floor, ${user} (#${run.i})`,
      });
      if (res.status !== 201) throw new Error(`message: ${res.status} ${JSON.stringify(res.body)}`);
      return;
    }
    const decision = run.kind === 'refund-reject' ? 'reject' : 'approve';
    const res = await api.post(`/api/requests/${request.id}/decision`, {
      decision,
      comment: `${decision} by ${user} (load test #${run.i})`,
    });
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`decision: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.status !== 'resolved') throw new Error(`decision: ${JSON.stringify(res.body)}`);
  }
}

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** Poll `GET /api/runs` until every run of `runs` has ended; fails after `timeoutMs` naming the laggards. */
export async function allEnded(server: ParleyProcess, runs: PlannedRun[], timeoutMs: number): Promise<void> {
  const api = server.client('victor');
  const deadline = Date.now() + timeoutMs;
  const ids = new Set(runs.map((r) => r.runId!));
  for (;;) {
    const listed = (await api.get('/api/runs?limit=500')).body.runs as { runId: string; status: string }[];
    const open = listed.filter((r) => ids.has(r.runId) && !ENDED.has(r.status));
    const seen = listed.filter((r) => ids.has(r.runId)).length;
    if (open.length === 0 && seen === ids.size) return;
    if (Date.now() > deadline) {
      const sample = open.slice(0, 5).map((r) => `${r.runId} ${r.status}`);
      throw new Error(
        `${open.length} of ${ids.size} runs still open after ${timeoutMs} ms: ${sample.join('; ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Check one finished run against the plan, from its stored events (`events`: as
 * `GET /api/runs/:id/events` returns them) and the refunds ledger rows of the run. Returns the
 * problems (none: the run is right) and the time from its last decision to `run.completed`.
 */
export function checkRun(
  run: PlannedRun,
  events: EventEnvelope[],
  refunds: { amount: number }[],
): { problems: string[]; decisionToCompletionMs?: number } {
  const problems: string[] = [];
  const types = events.map((e) => e.type);
  const count = (type: string): number => types.filter((t) => t === type).length;
  if (!events.every((e, i) => e.seq === i + 1))
    problems.push(`seqs not 1..n: ${events.map((e) => e.seq).join(',')}`);
  const chain = verifyChain(events);
  if (!chain.ok) problems.push(`hash chain: ${JSON.stringify(chain)}`);
  if (types[0] !== 'run.started') problems.push(`first event ${types[0]}`);
  if (types.at(-1) !== 'run.completed') problems.push(`last event ${types.at(-1)}`);
  if (count('run.completed') !== 1) problems.push(`${count('run.completed')} run.completed`);
  if (count('model-call.failed') || count('tool-call.failed')) problems.push('a failed model or tool call');
  const decisions = events.filter((e) => e.type === 'human-decision.recorded');
  const opened = count('human-request.opened');
  const resolved = events.filter((e) => e.type === 'human-request.resolved');
  const by = (e: EventEnvelope): string => (e.actor as { id?: string }).id ?? '?';
  const expectRefunds = (n: number): void => {
    if (refunds.length !== n) problems.push(`${refunds.length} refunds in the ledger, expected ${n}`);
    else if (n === 1 && refunds[0].amount !== run.amount)
      problems.push(`refund of ${refunds[0].amount}, expected ${run.amount}`);
  };
  switch (run.kind) {
    case 'refund-approve':
    case 'refund-reject': {
      const decision = run.kind === 'refund-approve' ? 'approve' : 'reject';
      if (opened !== 1 || decisions.length !== 1)
        problems.push(`${opened} requests, ${decisions.length} decisions`);
      else {
        const d = decisions[0].data as { decision: string };
        if (d.decision !== decision || by(decisions[0]) !== TEST_USERS[run.deciders[0]].id)
          problems.push(`decision ${d.decision} by ${by(decisions[0])}`);
      }
      if (count('tool-call.started') !== (decision === 'approve' ? 1 : 0))
        problems.push(`${count('tool-call.started')} tool-call.started`);
      expectRefunds(decision === 'approve' ? 1 : 0);
      break;
    }
    case 'refund-small':
      if (opened !== 0) problems.push(`${opened} human requests for a small refund`);
      expectRefunds(1);
      break;
    case 'content':
      if (opened !== 2 || decisions.length !== 2)
        problems.push(`${opened} reviews, ${decisions.length} decisions`);
      else if (decisions.map(by).join() !== run.deciders.map((u) => TEST_USERS[u].id).join())
        problems.push(`reviews by ${decisions.map(by).join()}`);
      expectRefunds(0);
      break;
    case 'debate':
      if (
        opened !== 1 ||
        resolved.length !== 1 ||
        (resolved[0].data as { outcome: string }).outcome !== 'answer'
      )
        problems.push(`floor: ${opened} opened, ${resolved.map((e) => JSON.stringify(e.data)).join()}`);
      expectRefunds(0);
      break;
  }
  const completed = events.at(-1);
  const decisionToCompletionMs =
    run.lastDecisionAt !== undefined && completed?.type === 'run.completed'
      ? Date.parse(completed.at) - run.lastDecisionAt
      : undefined;
  return { problems, decisionToCompletionMs };
}
