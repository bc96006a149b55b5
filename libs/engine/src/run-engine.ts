import { randomUUID } from 'node:crypto';
import type { Actor, EventEnvelope, NewEvent, RunEvent, Workflow } from '@parley/contracts';
import {
  ChainVerifier,
  ConcurrencyError,
  ConflictError,
  NotFoundError,
  ParleyError,
  upcast,
} from '@parley/contracts';
import { markGeneratedEventId, previewBatch, type EventStore } from '@parley/event-store';
import type { CrashPointHook } from './chaos/crash-points';
import { decide } from './decide';
import { ModelCallError, type ModelGateway } from './model-gateway';
import { SYSTEM_ACTOR, agentActor } from './patterns/shared';
import { authorizeToolCall } from './hitl/tool-gates';
import { retryBoundsOf, retryDelayMs, type RetryBounds } from './retries/retry-policy';
import { isTransientNetworkError } from './retries/transient';
import { evolve, foldRun, isTerminal, type CallRetries, type RunState } from './run-state';
import type { DecideContext, ModelCallPlan, Step } from './steps';
import { ToolError, type ToolRegistry } from './tools/tool-registry';
import { recoverStartedCall } from './tools/reconcile';

export interface RunEngineDeps {
  store: EventStore;
  models: ModelGateway;
  tools: ToolRegistry;
  now?: () => Date;
  newId?: () => string;
  /** Every batch appended through the engine, after it is durable (sagas, live views). */
  onAppended?: (events: RunEvent[]) => void;
  /** Live tokens while an agent speaks. */
  onToken?: (runId: string, agent: string, delta: string) => void;
  log?: (line: string) => void;
  /**
   * Whether this process may write the run now (several instances on one Kafka log: only the
   * run's owner may). Checked by `kick`, by the driving loop before each step, and by `write`
   * right before each append. Default: every run is ours.
   */
  owns?: (runId: string) => boolean;
  /** While ownership is being reassigned, resolves once it is settled (bounded): `write` then checks `owns` again. */
  ownershipSettled?: () => Promise<void>;
  /** Test only (chaos): called at each step boundary, where it may kill the process. See chaos/crash-points.ts. */
  crashPoint?: CrashPointHook;
  /** The jitter of retry delays, in [0, 1). Default Math.random; injected by tests. */
  random?: () => number;
}

/** This process does not own the run (any more): another instance drives it and takes its commands. */
export class NotOwnerError extends ParleyError {
  constructor(runId: string) {
    super(
      'CLUSTER.NOT_OWNER',
      `this instance does not own run ${runId} (ownership moved); try again`,
      'unavailable',
      undefined,
      { runId },
    );
  }
}

export interface StartRun {
  runId?: string;
  workflow: Workflow;
  input: string;
  requestedBy: Actor;
  idempotencyKey?: string;
  forkOf?: { runId: string; atSeq: number; head: string };
}

/**
 * The engine: the only writer of run streams in this process. A run's state is the fold of its
 * events; the engine decides the next step, records its intent, performs it outside the lock and
 * records its result, until the run waits for a human or ends. Nothing but the log keeps a run
 * alive: a waiting run is dropped from memory and rebuilt from its log when something happens.
 */
export class RunEngine {
  private readonly active = new Map<string, RunState>();
  private readonly broken = new Map<string, { seq: number; reason: string; message: string }>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly driving = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly now: () => Date;
  private readonly newId: () => string;
  /** Ids are random v4 UUIDs (no `newId` injected, as in tests). */
  private readonly randomIds: boolean;
  private stopped = false;
  private readonly owns: (runId: string) => boolean;
  private readonly random: () => number;
  /**
   * Tool calls whose `tool-call.started` this process appended and whose effect it has not begun
   * (by idempotency key): such a call may be begun again here without a human (a kick that took over
   * the drive), since it cannot have acted. Any other started call without a result may have.
   */
  private readonly intentsHere = new Set<string>();
  /** Ends every retry delay at once when the engine stops (the call stays `started`: recovery repeats it). */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: RunEngineDeps) {
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? randomUUID;
    this.randomIds = deps.newId === undefined;
    this.owns = deps.owns ?? (() => true);
  }

  /**
   * The run's current state, from memory when active (and still at the log's head), else folded
   * from its log. The head check is one indexed lookup; it keeps a cached state honest when
   * something else wrote the run (another instance that owned it for a while).
   */
  async state(runId: string, options: { forReading?: boolean } = {}): Promise<RunState | undefined> {
    const cached = this.active.get(runId);
    if (cached && (await this.deps.store.head(runId))?.seq === cached.seq) return cached;
    const events = await this.deps.store.read(runId);
    if (events.length === 0) return undefined;
    // Reads (the run's page, an auditor) see the log as it is; GET /api/runs/:id/verify tells its state.
    if (options.forReading) return foldRun(events.map(upcast));
    // A run is driven only from a log that verifies: an event edited in the database (an amount, an
    // approval) breaks its hash, and the run is refused as a whole rather than run on a forged fact.
    const verifier = new ChainVerifier();
    for (const event of events) verifier.push(event);
    const verdict = verifier.result();
    if (!verdict.ok) {
      if (!this.broken.has(runId)) {
        this.broken.set(runId, { seq: verdict.seq, reason: verdict.reason, message: verdict.message });
        this.deps.log?.(`run ${runId}: its log does not verify (${verdict.message}); it will not be driven`);
      }
      throw new ConflictError(
        'RUN.CHAIN_BROKEN',
        `run ${runId}'s log does not verify (${verdict.message}): it is not driven and takes no command; see GET /api/runs/${runId}/verify`,
        { runId, seq: verdict.seq, reason: verdict.reason },
      );
    }
    return foldRun(events.map(upcast));
  }

  /** Runs whose log did not verify when they were loaded (never driven): what /health reports. */
  brokenRuns(): Array<{ runId: string; seq: number; reason: string; message: string }> {
    return [...this.broken].map(([runId, b]) => ({ runId, ...b }));
  }

  async start(command: StartRun): Promise<RunState> {
    const runId = command.runId ?? this.newId();
    await this.write(
      runId,
      (state) => {
        if (state) throw new ConcurrencyError(runId, 0, state.seq);
        return {
          events: [
            {
              type: 'run.started',
              actor: command.requestedBy,
              data: {
                workflow: command.workflow,
                input: command.input,
                requestedBy: command.requestedBy.id,
                idempotencyKey: command.idempotencyKey,
                forkOf: command.forkOf,
              },
            },
          ],
          result: undefined,
        };
      },
      { allowNew: true, drive: true },
    );
    return (await this.state(runId))!;
  }

  /**
   * Append what `decider` decides against the run's current state, under the run's lock: the
   * path of every command (human decisions, messages, hand-offs) and of the engine itself.
   */
  async write<T>(
    runId: string,
    decider: (state: RunState | undefined) => { events: NewEvent[]; result: T },
    options: WriteOptions = {},
  ): Promise<{ result: T; events: RunEvent[]; state: RunState | undefined }> {
    return this.withLock(runId, async () => {
      let state = await this.state(runId);
      if (!state && !options.allowNew) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
      const { events, result } = decider(state);
      if (events.length === 0) return { result, events: [], state };
      if (!this.owns(runId)) {
        // A rebalance in progress: an answer that arrived meanwhile is kept if the run stays ours.
        await this.deps.ownershipSettled?.();
        if (!this.owns(runId)) throw new NotOwnerError(runId);
      }
      // A command that resumes a run idle in this process: what the run does next (up to the next
      // effect's intent) goes into the same append, and the engine drives the run from there.
      const drive = options.drive === true && !this.stopped && !this.driving.has(runId);
      if (drive) {
        const expectedSeq = state?.seq ?? 0; // before folding ahead: the fold advances the state
        const ahead = this.foldAhead(runId, state, events);
        try {
          const stored = (await this.deps.store.append(runId, expectedSeq, ahead.batch)).map(upcast);
          this.deps.crashPoint?.('after-append', runId);
          if (!isTerminal(ahead.state.status)) this.active.set(runId, ahead.state);
          this.deps.onAppended?.(stored);
          this.startDriving(runId, ahead.begun);
          return { result, events: stored, state: ahead.state };
        } catch (error) {
          this.active.delete(runId); // the folded-ahead state is not the log's: rebuild it from the log
          throw error;
        }
      }
      const stored = (await this.deps.store.append(runId, state?.seq ?? 0, events)).map(upcast);
      this.deps.crashPoint?.('after-append', runId);
      for (const event of stored) state = evolve(state, event);
      // Keep the folded state when the run is (about to be) driven: a decision that resumes a run is
      // followed by a kick, which then need not read and fold the whole stream again.
      if (state && (state.status === 'running' || (!isTerminal(state.status) && this.driving.has(runId))))
        this.active.set(runId, state);
      this.deps.onAppended?.(stored);
      if (options.drive) this.kick(runId);
      return { result, events: stored, state };
    });
  }

  /** Make sure the run is being driven (no-op for a run that waits or has ended: decide says so). */
  kick(runId: string): void {
    this.startDriving(runId, undefined);
  }

  /** Drive the run, beginning with an effect whose intent is already durable (or deciding afresh). */
  private startDriving(runId: string, begun: Begun | undefined): void {
    if (this.stopped || !this.owns(runId)) return;
    const current = this.driving.get(runId);
    if (current) {
      current.again = true;
      return;
    }
    const entry = { again: false, done: Promise.resolve() };
    this.driving.set(runId, entry);
    entry.done = this.drive(runId, entry, begun)
      .catch((error: unknown) => {
        // Ownership moved while a step was in flight: its result was not appended; the new owner redoes it.
        if (error instanceof NotOwnerError) return;
        this.deps.log?.(
          `run ${runId}: engine error: ${error instanceof Error ? error.stack : String(error)}`,
        );
      })
      .finally(() => this.stopDriving(runId, entry));
  }

  /**
   * The driver stops: the run leaves memory. Done synchronously where the loop sees nothing left to
   * do, so that a command arriving at that moment either sets `again` before the check or finds no
   * driver and starts one: never a kick lost between the check and the clean-up.
   */
  private stopDriving(runId: string, entry: object): void {
    if (this.driving.get(runId) !== entry) return; // a newer driver owns the run's memory now
    this.driving.delete(runId);
    this.active.delete(runId);
  }

  /** Resolves when the run's driver (if any) has stopped: it waits for a human or has ended. */
  async settled(runId: string): Promise<void> {
    await this.driving.get(runId)?.done;
  }

  /**
   * Stop driving the runs that match (their ownership moved away; `owns` must already say so) and
   * resolve once their in-flight steps have ended. A model answer or tool result that arrives after
   * the move is not appended (`write` checks `owns`); the new owner asks or runs it again.
   */
  async release(predicate: (runId: string) => boolean): Promise<number> {
    const released = [...this.driving].filter(([runId]) => predicate(runId));
    for (const [runId] of released) this.active.delete(runId);
    await Promise.all(released.map(([, d]) => d.done));
    return released.length;
  }

  /** The runs this process is driving right now. */
  drivingRuns(): string[] {
    return [...this.driving.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await Promise.all([...this.driving.values()].map((d) => d.done));
  }

  /**
   * The loop. A step's intent (`model-call.started`, `tool-call.started`) is appended before its
   * effect; the effect's result is appended together with whatever the run decides next, up to the
   * next effect's intent: one append per agent step, and never an effect whose intent is not durable.
   */
  private async drive(runId: string, entry: { again: boolean }, first: Begun | undefined): Promise<void> {
    let begun = first;
    for (;;) {
      if (this.stopped || !this.owns(runId)) return;
      if (!begun) {
        const state = await this.state(runId);
        if (!state) return;
        if (!isTerminal(state.status)) this.active.set(runId, state);
        const step = decide(state, this.context());
        if (step.kind === 'wait' || step.kind === 'done') {
          if (!entry.again) return this.stopDriving(runId, entry);
          entry.again = false;
          continue;
        }
        begun = await this.begin(runId, state.seq, step);
        if (!begun) continue;
      }
      const results = await this.perform(runId, begun);
      begun = results.length ? await this.record(runId, results) : undefined;
    }
  }

  private context(): DecideContext {
    return {
      now: this.now(),
      newId: this.newId,
      toolSpec: (name) => this.deps.tools.spec(name),
      parseArgs: (tool, args) => this.deps.tools.parse(tool, args),
    };
  }

  /** What a step appends before its effect, and the effect it begins (none for plain facts). */
  private intentOf(
    state: RunState,
    step: Exclude<Step, { kind: 'wait' | 'done' }>,
  ): { events: NewEvent[]; begun?: Begun } {
    switch (step.kind) {
      case 'append':
        return { events: step.events };
      case 'call-models': {
        // A call started before a crash and never answered is made again under the same id:
        // only a recorded answer counts, so repeating an unanswered model call is harmless.
        const calls = step.calls.map((plan) => {
          const started = state.modelCalls.find(
            (c) => c.status === 'started' && c.agent === plan.agent.name && c.purpose === plan.purpose,
          );
          return { plan: { ...plan, callId: started?.callId ?? plan.callId }, fresh: !started };
        });
        return {
          events: calls
            .filter((c) => c.fresh)
            .map(({ plan }) => ({
              type: 'model-call.started',
              actor: agentActor(plan.agent.name),
              data: {
                callId: plan.callId,
                agent: plan.agent.name,
                purpose: plan.purpose,
                model: plan.agent.model,
              },
            })),
          begun: {
            kind: 'models',
            calls: calls.map((c) => c.plan),
            retry: retryBoundsOf(state.workflow),
            retries: Object.fromEntries(
              state.modelCalls
                .filter((c) => c.status === 'started' && c.retries)
                .map((c) => [c.callId, c.retries!]),
            ),
          },
        };
      }
      case 'run-tool': {
        const call = state.toolCalls.find((c) => c.callId === step.callId);
        if (!call || (call.status !== 'requested' && call.status !== 'started')) return { events: [] };
        // The last word before an effect: whatever decided to run it, the policies must be satisfied
        // by the log's decisions on exactly these arguments (hitl/tool-gates.ts). Else nothing begins.
        const verdict = authorizeToolCall(state, this.context(), call);
        if (verdict.kind !== 'run') return { events: [] };
        // A tool call started but never finished runs again with the same idempotency key when the
        // tool is idempotent; any other is put to a human first (tools/reconcile.ts).
        let events: NewEvent[] =
          call.status === 'requested'
            ? [
                {
                  type: 'tool-call.started',
                  actor: SYSTEM_ACTOR,
                  data: { callId: call.callId, idempotencyKey: call.idempotencyKey },
                },
              ]
            : [];
        const interrupted =
          call.status === 'started' &&
          !this.intentsHere.has(call.idempotencyKey) &&
          !this.deps.tools.isIdempotent(call.tool);
        if (interrupted) {
          const recovery = recoverStartedCall(state, this.context(), call);
          if (recovery.kind !== 'rerun') return { events: recovery.kind === 'ask' ? recovery.events : [] };
          events = recovery.events;
        }
        if (events.length) this.intentsHere.add(call.idempotencyKey);
        return {
          events,
          begun: {
            kind: 'tool',
            callId: call.callId,
            tool: call.tool,
            idempotencyKey: call.idempotencyKey,
            args: verdict.args,
            retry: retryBoundsOf(state.workflow),
            retries: call.retries,
          },
        };
      }
    }
  }

  /** Append a step's intent, if nothing happened since it was decided (else decide again). */
  private async begin(
    runId: string,
    seq: number,
    step: Exclude<Step, { kind: 'wait' | 'done' }>,
  ): Promise<Begun | undefined> {
    const { result } = await this.write(runId, (state) => {
      if (!state || state.seq !== seq) return { events: [], result: undefined };
      const { events, begun } = this.intentOf(state, step);
      return { events, result: begun };
    });
    return result;
  }

  /**
   * Record an effect's result and, in the same append, what the run decides next: facts that follow
   * from it and the intent of the next effect. Returns that next effect, already begun.
   */
  private async record(runId: string, results: NewEvent[]): Promise<Begun | undefined> {
    return this.withLock(runId, async () => {
      const state = await this.state(runId);
      if (!state) return undefined;
      const relevant = results.filter((e) => stillOpen(state, e));
      if (relevant.length === 0) return undefined;
      if (!this.owns(runId)) {
        await this.deps.ownershipSettled?.();
        if (!this.owns(runId)) throw new NotOwnerError(runId);
      }
      const seq = state.seq;
      try {
        const ahead = this.foldAhead(runId, state, relevant);
        const stored = (await this.deps.store.append(runId, seq, ahead.batch)).map(upcast);
        this.deps.crashPoint?.(
          relevant[0].type.startsWith('tool-call.') ? 'after-tool-recorded' : 'after-model-recorded',
          runId,
        );
        this.active.set(runId, ahead.state);
        this.deps.onAppended?.(stored);
        return ahead.begun;
      } catch (error) {
        this.active.delete(runId); // the folded-ahead state is not the log's: rebuild it from the log
        throw error;
      }
    });
  }

  /**
   * Fold `first` onto the run's state (mutating it; a new run's state is created), then what the run
   * decides next, up to and including the next effect's intent. The events are stamped with their ids
   * and times here, so what is folded is exactly what the store seals. Returns the batch to append
   * and the effect it begins. On a failed append the caller drops the state (it is not the log's).
   */
  private foldAhead(
    runId: string,
    initial: RunState | undefined,
    first: NewEvent[],
  ): { batch: NewEvent[]; begun: Begun | undefined; state: RunState } {
    let state = initial;
    const batch: NewEvent[] = [];
    const add = (events: NewEvent[]): void => {
      const stamped = events.map((e) => {
        const event = { ...e, eventId: e.eventId ?? this.newId(), at: e.at ?? this.now().toISOString() };
        // a random v4 UUID drawn now cannot be stored already: the store need not look it up
        if (e.eventId === undefined && this.randomIds) markGeneratedEventId(event);
        return event;
      });
      for (const event of previewBatch(runId, state?.seq ?? 0, stamped)) state = evolve(state, upcast(event));
      batch.push(...stamped);
    };
    add(first);
    let begun: Begun | undefined;
    for (let i = 0; i < MAX_FACTS_PER_STEP && !isTerminal(state!.status); i++) {
      const step = decide(state!, this.context());
      if (step.kind === 'wait' || step.kind === 'done') break;
      if (step.kind === 'call-models' && step.calls.length > 1) break; // a fan-out begins on its own
      const intent = this.intentOf(state!, step);
      if (intent.events.length) add(intent.events);
      if (intent.begun || intent.events.length === 0) {
        begun = intent.begun;
        break;
      }
    }
    return { batch, begun, state: state! };
  }

  /** Perform a begun effect; returns its result event (a fan-out records each answer as it comes). */
  private async perform(runId: string, begun: Begun): Promise<NewEvent[]> {
    if (begun.kind === 'tool') return optional(await this.toolResult(runId, begun));
    if (begun.calls.length === 1) return optional(await this.modelResult(runId, begun, begun.calls[0]));
    await Promise.all(
      begun.calls.map(async (call) => {
        const event = await this.modelResult(runId, begun, call);
        if (!event) return; // the engine stopped during a retry delay: the call stays open
        // The answer is a fact whatever else was appended meanwhile (a human message, a decision).
        await this.write(runId, (state) => ({
          events: state && stillOpen(state, event) ? [event] : [],
          result: undefined,
        }));
      }),
    );
    return [];
  }

  /**
   * Ask the model, trying again after a transient failure (a refused or reset connection, a
   * timeout, HTTP 429 or 5xx) within the workflow's `retries`: each failed attempt that is tried
   * again is a `model-call.retried` fact, appended before the delay, so the attempts are counted
   * from the log (a restart during the delay resumes the count) and an auditor sees every one.
   * Undefined when the engine stops during a delay (the call stays `started`: recovery repeats it).
   */
  private async modelResult(
    runId: string,
    begun: Extract<Begun, { kind: 'models' }>,
    call: ModelCallPlan,
  ): Promise<NewEvent | undefined> {
    const agent = call.agent.name;
    const base = { callId: call.callId, agent, purpose: call.purpose };
    let failed = begun.retries[call.callId]?.failed ?? 0;
    if (!(await this.delay(begun.retries[call.callId], begun.retry))) return undefined;
    for (;;) {
      try {
        this.deps.crashPoint?.('before-model', runId);
        const result = await this.deps.models.complete(call, {
          runId,
          onToken: (delta) => this.deps.onToken?.(runId, agent, delta),
        });
        this.deps.crashPoint?.('after-model', runId);
        return {
          type: 'model-call.completed',
          actor: agentActor(agent),
          data: {
            ...base,
            content: result.content,
            toolCalls: result.toolCalls,
            structured: result.structured,
            attempts: failed + result.attempts,
            usage: result.usage,
          },
        };
      } catch (error) {
        const e =
          error instanceof ModelCallError ? error : new ModelCallError('MODEL_UNAVAILABLE', String(error), 1);
        const retried = await this.retryAfter(runId, begun.retry, failed + 1, e, (attempt, delayMs) => ({
          type: 'model-call.retried',
          actor: agentActor(agent),
          data: { ...base, attempt, code: e.code, message: e.message, delayMs },
        }));
        if (retried === 'stopped') return undefined;
        if (retried === 'again') {
          failed += 1;
          continue;
        }
        this.deps.log?.(`run ${runId}: model call ${call.callId} (${agent}) failed: ${e.message}`);
        return {
          type: 'model-call.failed',
          actor: agentActor(agent),
          data: { ...base, code: e.code, message: e.message, attempts: failed + e.attempts },
        };
      }
    }
  }

  /** Run the tool, again after a transient failure with the same idempotency key (as `modelResult`). */
  private async toolResult(
    runId: string,
    begun: Extract<Begun, { kind: 'tool' }>,
  ): Promise<NewEvent | undefined> {
    const { callId } = begun;
    let failed = begun.retries?.failed ?? 0;
    if (!(await this.delay(begun.retries, begun.retry))) return undefined;
    this.intentsHere.delete(begun.idempotencyKey); // from here on, the call may have acted
    for (;;) {
      try {
        this.deps.crashPoint?.('before-tool', runId);
        const outcome = await this.deps.tools.execute(begun.tool, begun.args, {
          runId,
          callId,
          idempotencyKey: begun.idempotencyKey,
        });
        this.deps.crashPoint?.('after-tool', runId);
        return {
          type: 'tool-call.completed',
          actor: SYSTEM_ACTOR,
          data: { callId, result: outcome.result ?? null, reconciled: outcome.reconciled ?? false },
        };
      } catch (error) {
        const code = error instanceof ToolError ? error.code : 'TOOL.FAILED';
        const message = error instanceof Error ? error.message : String(error);
        const transient = error instanceof ToolError ? error.transient : isTransientNetworkError(error);
        const retryAfterMs = error instanceof ToolError ? error.retryAfterMs : undefined;
        const retried = await this.retryAfter(
          runId,
          begun.retry,
          failed + 1,
          { transient, retryAfterMs },
          (attempt, delayMs) => ({
            type: 'tool-call.retried',
            actor: SYSTEM_ACTOR,
            data: { callId, attempt, code, message, delayMs },
          }),
        );
        if (retried === 'stopped') return undefined;
        if (retried === 'again') {
          failed += 1;
          continue;
        }
        return {
          type: 'tool-call.failed',
          actor: SYSTEM_ACTOR,
          data: { callId, code, message, attempts: failed + 1 },
        };
      }
    }
  }

  /**
   * After failed attempt `attempt`: 'again' once its `*.retried` fact is appended and the delay has
   * passed; 'final' when the error is not transient, the bound is reached or the call was closed
   * meanwhile (a cancel); 'stopped' when the engine stopped during the delay.
   */
  private async retryAfter(
    runId: string,
    bounds: RetryBounds,
    attempt: number,
    error: { transient: boolean; retryAfterMs?: number },
    fact: (attempt: number, delayMs: number) => NewEvent,
  ): Promise<'again' | 'final' | 'stopped'> {
    if (!error.transient || attempt >= bounds.attempts || this.stopped) return 'final';
    const delayMs = retryDelayMs(bounds, attempt, this.random, error.retryAfterMs);
    // Stamped with the engine's clock: a recovered call's next attempt is due at `at + delayMs`.
    const event = { ...fact(attempt, delayMs), at: this.now().toISOString() };
    const { result: open } = await this.write(runId, (state) => {
      const still = state !== undefined && !isTerminal(state.status) && stillOpen(state, event);
      return { events: still ? [event] : [], result: still };
    });
    if (!open) return 'final';
    return (await this.sleep(delayMs)) ? 'again' : 'stopped';
  }

  /**
   * Wait until a recovered call's next attempt is due (a restart during its delay), never longer
   * than the policy's longest delay whatever the clocks say. False: the engine stopped.
   */
  private async delay(retries: CallRetries | undefined, bounds: RetryBounds): Promise<boolean> {
    if (!retries) return true;
    const due = Date.parse(retries.nextAttemptAt) - this.now().getTime();
    return this.sleep(Math.min(due, bounds.maxBackoffMs));
  }

  /** Resolves true after `ms`, or false at once when the engine stops. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', done);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async withLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(runId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(runId, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(runId) === tail) this.locks.delete(runId);
    }
  }
}

export type { EventEnvelope };

export interface WriteOptions {
  /** The run may not exist yet (it is being started). */
  allowNew?: boolean;
  /**
   * The command resumes the run (a start, a decision, a message, a hand-off): the engine folds on,
   * appends what the run does next up to its next effect's intent in the same append, and drives it.
   */
  drive?: boolean;
}

/** Bound on the facts folded into one step's append (a decider that never settles is a bug, not a loop). */
const MAX_FACTS_PER_STEP = 16;

/**
 * An effect whose intent is recorded: the loop performs it next, within the workflow's retry
 * bounds, counting the failed attempts already recorded for a call that is being recovered.
 */
type Begun =
  | { kind: 'models'; calls: ModelCallPlan[]; retry: RetryBounds; retries: Record<string, CallRetries> }
  | {
      kind: 'tool';
      callId: string;
      tool: string;
      idempotencyKey: string;
      args: unknown;
      retry: RetryBounds;
      retries?: CallRetries;
    };

const optional = (event: NewEvent | undefined): NewEvent[] => (event ? [event] : []);

/** A result is recorded only while its call is still open (started and not answered). */
function stillOpen(state: RunState, event: NewEvent): boolean {
  const callId = (event.data as { callId?: string }).callId;
  if (event.type.startsWith('model-call.'))
    return state.modelCalls.some((c) => c.callId === callId && c.status === 'started');
  if (event.type.startsWith('tool-call.'))
    return state.toolCalls.some((c) => c.callId === callId && c.status === 'started');
  return true;
}
