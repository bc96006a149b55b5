import { randomUUID } from 'node:crypto';
import type { Actor, EventEnvelope, NewEvent, RunEvent, RunTraceContext, Workflow } from '@parley/contracts';
import {
  ChainVerifier,
  ConcurrencyError,
  ConflictError,
  NotFoundError,
  NotOwnerError,
  upcast,
} from '@parley/contracts';
import { KeyedLock, markGeneratedEventId, previewBatch, type EventStore } from '@parley/event-store';
import type { CrashPointHook } from './chaos/crash-points';
import { decide } from './decide';
import { Effects, stillOpen, type Begun } from './effects/effects';
import { intentOf } from './effects/intent';
import { InterruptedCalls } from './tools/reconcile';
import type { ModelGateway } from './model-gateway';
import { evolve, foldRun, isTerminal, type RunState } from './run-state';
import type { DecideContext, Step } from './steps';
import type { ToolRegistry } from './tools/tool-registry';

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
  /**
   * Whether anyone watches a run's tokens (asked as each model call begins; default: yes). A call
   * nobody watches gets no `onToken`, and the gateway asks for the whole answer instead of a stream.
   */
  tokensWatched?: (runId: string) => boolean;
  log?: (line: string) => void;
  /** A run's milestones (started, waiting for a human, ended), one line each: `run <id>: ...`. */
  info?: (line: string) => void;
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
/** Ownership moved (or the broker fenced this instance): see @parley/contracts. */
export { NotOwnerError };

export interface StartRun {
  runId?: string;
  workflow: Workflow;
  input: string;
  requestedBy: Actor;
  idempotencyKey?: string;
  forkOf?: { runId: string; atSeq: number; head: string };
  /** The run's trace context (tracing on): recorded in `run.started`, so the trace outlives the process. */
  trace?: RunTraceContext;
}

/**
 * The engine: the only writer of run streams in this process. A run's state is the fold of its
 * events; the engine decides the next step, records its intent, performs it outside the lock and
 * records its result, until the run waits for a human or ends. Nothing but the log keeps a run
 * alive: a waiting run is dropped from memory and rebuilt from its log when something happens.
 *
 * (About 450 lines, on purpose: writing, driving, beginning an effect and recording its result share
 * the run's lock, its in-memory state and the map of drivers, and their order is the exactly-once
 * argument; the effects themselves are in effects/, what a step's intent is in effects/intent.ts.)
 */
export class RunEngine {
  private readonly active = new Map<string, RunState>();
  private readonly broken = new Map<string, { seq: number; reason: string; message: string }>();
  /** One writer per run in this process: every append of a run goes through its lock. */
  private readonly locks = new KeyedLock();
  private readonly driving = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly now: () => Date;
  private readonly newId: () => string;
  /** Ids are random v4 UUIDs (no `newId` injected, as in tests). */
  private readonly randomIds: boolean;
  private stopped = false;
  private readonly owns: (runId: string) => boolean;
  private readonly random: () => number;
  /** Ends every retry delay at once when the engine stops (the call stays `started`: recovery repeats it). */
  private readonly stopping = new AbortController();
  private readonly effects: Effects;
  /** Started tool calls that may have acted: put to a human unless idempotent (tools/reconcile.ts). */
  private readonly interrupted: InterruptedCalls;

  constructor(private readonly deps: RunEngineDeps) {
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? (() => new Date());
    this.newId = deps.newId ?? randomUUID;
    this.randomIds = deps.newId === undefined;
    this.owns = deps.owns ?? (() => true);
    this.interrupted = new InterruptedCalls((tool) => deps.tools.isIdempotent(tool));
    this.effects = new Effects({
      interrupted: this.interrupted,
      models: deps.models,
      tools: deps.tools,
      onToken: deps.onToken,
      tokensWatched: deps.tokensWatched,
      crashPoint: deps.crashPoint,
      log: deps.log,
      now: this.now,
      random: this.random,
      isStopped: () => this.stopped,
      signal: this.stopping.signal,
      appendIfOpen: async (runId, event) => {
        const { result } = await this.write(runId, (state) => {
          const still = state !== undefined && !isTerminal(state.status) && stillOpen(state, event);
          return { events: still ? [event] : [], result: still };
        });
        return result;
      },
    });
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
                ...(command.trace ? { trace: command.trace } : {}),
              },
            },
          ],
          result: undefined,
        };
      },
      { allowNew: true, drive: true },
    );
    this.deps.info?.(`run ${runId}: started (workflow ${command.workflow.name})`);
    return (await this.state(runId))!;
  }

  /**
   * Append what `decider` decides against the run's current state, under the run's lock: the
   * path of every command (human decisions, messages, hand-offs) and of the engine itself.
   */
  write<T>(
    runId: string,
    decider: (state: RunState) => { events: NewEvent[]; result: T },
    options?: WriteOptions & { allowNew?: false },
  ): Promise<{ result: T; events: RunEvent[]; state: RunState | undefined }>;
  /** `allowNew`: the run is being started, so the decider may be handed no state at all. */
  write<T>(
    runId: string,
    decider: (state: RunState | undefined) => { events: NewEvent[]; result: T },
    options: WriteOptions & { allowNew: true },
  ): Promise<{ result: T; events: RunEvent[]; state: RunState | undefined }>;
  async write<T>(
    runId: string,
    decider: (state: RunState) => { events: NewEvent[]; result: T },
    options: WriteOptions = {},
  ): Promise<{ result: T; events: RunEvent[]; state: RunState | undefined }> {
    return this.locks.run(runId, async () => {
      let state = await this.state(runId);
      if (!state && !options.allowNew) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
      // a decider is handed the run's state; only a start (allowNew) may be handed none
      const { events, result } = decider(state as RunState);
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
          if (!entry.again) {
            // nothing to do until something happens (a human, a timer) or ever: the driver stops
            this.deps.info?.(`run ${runId}: ${state.status} at seq ${state.seq}`);
            return this.stopDriving(runId, entry);
          }
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

  /** Append a step's intent, if nothing happened since it was decided (else decide again). */
  private async begin(
    runId: string,
    seq: number,
    step: Exclude<Step, { kind: 'wait' | 'done' }>,
  ): Promise<Begun | undefined> {
    const { result } = await this.write(runId, (state) => {
      if (!state || state.seq !== seq) return { events: [], result: undefined };
      const { events, begun } = intentOf(state, step, this.context(), this.interrupted);
      return { events, result: begun };
    });
    return result;
  }

  /**
   * Record an effect's result and, in the same append, what the run decides next: facts that follow
   * from it and the intent of the next effect. Returns that next effect, already begun.
   */
  private async record(runId: string, results: NewEvent[]): Promise<Begun | undefined> {
    return this.locks.run(runId, async () => {
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
    // the first batch starts the run (run.started) or continues one: from here there is a state
    const folded = (): RunState => {
      if (!state) throw new Error(`run ${runId}: a batch folded ahead without run.started`);
      return state;
    };
    let begun: Begun | undefined;
    for (let i = 0; i < MAX_FACTS_PER_STEP && !isTerminal(folded().status); i++) {
      const step = decide(folded(), this.context());
      if (step.kind === 'wait' || step.kind === 'done') break;
      if (step.kind === 'call-models' && step.calls.length > 1) break; // a fan-out begins on its own
      const intent = intentOf(folded(), step, this.context(), this.interrupted);
      if (intent.events.length) add(intent.events);
      if (intent.begun || intent.events.length === 0) {
        begun = intent.begun;
        break;
      }
    }
    return { batch, begun, state: folded() };
  }

  /** Perform a begun effect; returns its result event (a fan-out records each answer as it comes). */
  private async perform(runId: string, begun: Begun): Promise<NewEvent[]> {
    // The intent is durable; the effect is performed only while the run is still ours (a paused
    // owner that lost it finds out here, or, at the latest, when the broker refuses its append).
    if (!this.owns(runId)) throw new NotOwnerError(runId);
    if (begun.kind === 'tool') return optional(await this.effects.toolResult(runId, begun));
    if (begun.calls.length === 1)
      return optional(await this.effects.modelResult(runId, begun, begun.calls[0]));
    await Promise.all(
      begun.calls.map(async (call) => {
        const event = await this.effects.modelResult(runId, begun, call);
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

const optional = (event: NewEvent | undefined): NewEvent[] => (event ? [event] : []);
