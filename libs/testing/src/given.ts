/**
/*
 * (About 400 lines: the given/when/then DSL and the fixtures its specs share.)
 */
/**
 * Given / when / then for the pure engine (after emmett's DeciderSpecification and castore's
 * given-when-then): a run is a workflow plus a list of facts; `when` decides the next step (or runs
 * a command) against the fold of those facts; `then` asserts the whole decision.
 *
 *   given(workflow, [...modelCall('m1', 'agent', 'reply', { content: 'hi' })])
 *     .when(testContext())
 *     .then({ kind: 'append', events: [finishEvent] });
 *
 * Facts are written as `NewEvent`s and sealed with the event store's own `sealBatch` (so their data
 * is validated by the registry and defaults apply, exactly as in a stored stream), then folded with
 * `foldRun`.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Actor, HumanRef, NewEvent, RunEvent, ToolCall, Workflow } from '@parley/contracts';
import { ParleyError, WorkflowSchema, holdsRole, upcast } from '@parley/contracts';
import { z } from 'zod';
import type {
  Acting,
  ChatMessage,
  DecideContext,
  ModelCallPlan,
  RunState,
  Step,
  StructuredOutput,
  ToolSpec,
} from '@parley/engine';
import { applyEdit, decide, foldRun, sha256 } from '@parley/engine';
import { sealBatch } from '@parley/event-store';

/** The instant every fixture event happens at, unless it says otherwise. */
export const T0 = new Date('2026-01-01T00:00:00.000Z');

export const SYSTEM: Actor = { kind: 'system', id: 'parley' };
export const agent = (id: string): Actor => ({ kind: 'agent', id });
export const humanActor = (id: string): Actor => ({ kind: 'human', id });

export interface ContextOptions {
  now?: Date;
  /** ids are `${ids}-1`, `${ids}-2` ... */
  ids?: string;
  tools?: Record<string, ToolSpec> | ((name: string) => ToolSpec | undefined);
}

/** A deterministic DecideContext: ids `${prefix}-1`, `${prefix}-2` ...; a fixed clock; stub tool specs. */
export function testContext(options: ContextOptions = {}): DecideContext {
  let n = 0;
  const prefix = options.ids ?? 'id';
  const tools = options.tools ?? {};
  return {
    now: options.now ?? T0,
    newId: () => `${prefix}-${++n}`,
    toolSpec:
      typeof tools === 'function'
        ? tools
        : (name) => (Object.prototype.hasOwnProperty.call(tools, name) ? tools[name] : undefined),
  };
}

/** The plan of a model call as the deciders build it: the agent's system prompt first. */
export function callPlan(
  workflow: Workflow,
  agentName: string,
  callId: string,
  purpose: string,
  messages: ChatMessage[],
  options: { tools?: ToolSpec[]; structured?: StructuredOutput } = {},
): ModelCallPlan {
  const definition = workflow.agents.find((a) => a.name === agentName);
  if (!definition) throw new Error(`workflow ${workflow.name} has no agent ${agentName}`);
  return {
    callId,
    agent: definition,
    purpose,
    messages: [{ role: 'system', content: definition.system }, ...messages],
    tools: options.tools ?? [],
    structured: options.structured,
  };
}

/** zod schemas compare by identity; as JSON Schema they compare by meaning. */
export function comparable<T>(value: T): T {
  if (value instanceof z.ZodType) return { jsonSchema: z.toJSONSchema(value) } as T;
  if (Array.isArray(value)) return value.map(comparable) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)])) as T;
  }
  return value;
}

/**
 * Someone acting on a request, with the server's role semantics (`holdsRole`): `admin` holds every
 * role, a built-in role includes the ones before it, `user:<id>` is held only by that user (who then
 * acts as `requester`), custom roles are held as named.
 */
export function actingAs(id: string, ...roles: string[]): Acting {
  const isAdmin = roles.includes('admin');
  const holds = (role: string): boolean => holdsRole({ id, roles }, role); // the server's own rule
  return {
    id,
    isAdmin,
    roleFor: (wanted) => {
      const match = wanted.find(holds);
      if (!match) return undefined;
      return match.startsWith('user:') ? 'requester' : roles.includes(match) ? match : roles[0];
    },
  };
}

/** The repository's `workflows/<name>.yaml`, parsed with the WorkflowSchema. */
export function loadWorkflow(name: string): Workflow {
  let dir = __dirname;
  while (!existsSync(join(dir, 'workflows', `${name}.yaml`))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no workflows/${name}.yaml above ${__dirname}`);
    dir = up;
  }
  return WorkflowSchema.parse(parseYaml(readFileSync(join(dir, 'workflows', `${name}.yaml`), 'utf8')));
}

// ---- facts ---------------------------------------------------------------------------------

export interface RunOptions {
  runId?: string;
  input?: string;
  requestedBy?: string;
}

export function runStarted(workflow: Workflow, options: RunOptions = {}): NewEvent {
  const requestedBy = options.requestedBy ?? 'alice';
  return {
    type: 'run.started',
    actor: humanActor(requestedBy),
    data: { workflow, input: options.input ?? 'Hello', requestedBy },
  };
}

/** A model call that started and completed: two facts. */
export function modelCall(
  callId: string,
  agentName: string,
  purpose: string,
  result: { content?: string; toolCalls?: ToolCall[]; structured?: unknown } = {},
): NewEvent[] {
  return [
    modelStarted(callId, agentName, purpose),
    {
      type: 'model-call.completed',
      actor: agent(agentName),
      data: {
        callId,
        agent: agentName,
        purpose,
        content: result.content ?? '',
        toolCalls: result.toolCalls ?? [],
        ...(result.structured !== undefined ? { structured: result.structured } : {}),
      },
    },
  ];
}

export function modelStarted(callId: string, agentName: string, purpose: string): NewEvent {
  return {
    type: 'model-call.started',
    actor: agent(agentName),
    data: { callId, agent: agentName, purpose, model: 'offline' },
  };
}

export function modelFailed(
  callId: string,
  agentName: string,
  purpose: string,
  code = 'MODEL_UNAVAILABLE',
): NewEvent[] {
  return [
    modelStarted(callId, agentName, purpose),
    {
      type: 'model-call.failed',
      actor: agent(agentName),
      data: { callId, agent: agentName, purpose, code, message: 'no answer', attempts: 3 },
    },
  ];
}

export function toolStarted(callId: string, idempotencyKey: string): NewEvent {
  return { type: 'tool-call.started', actor: SYSTEM, data: { callId, idempotencyKey } };
}

export function toolCompleted(callId: string, result: unknown): NewEvent {
  return { type: 'tool-call.completed', actor: SYSTEM, data: { callId, result } };
}

export function toolFailed(callId: string, code = 'TOOL.FAILED', message = 'it broke'): NewEvent {
  return { type: 'tool-call.failed', actor: SYSTEM, data: { callId, code, message } };
}

/** A human decision that resolves the request on its own (quorum 1). */
export function resolve(
  requestId: string,
  decision: string,
  by: HumanRef,
  extra: { comment?: string; payload?: unknown; payloadHash?: string } = {},
): NewEvent[] {
  return [
    {
      type: 'human-decision.recorded',
      actor: humanActor(by.id),
      data: {
        requestId,
        decision,
        by,
        comment: extra.comment,
        payload: extra.payload,
        payloadHash: extra.payloadHash ?? 'shown',
      },
    },
    {
      type: 'human-request.resolved',
      actor: humanActor(by.id),
      data: { requestId, outcome: decision, payload: extra.payload, comment: extra.comment, deciders: [by] },
    },
  ];
}

export function expired(
  requestId: string,
  action: 'reject' | 'approve' | 'escalate' | 'continue',
  escalateTo?: string,
): NewEvent {
  return { type: 'human-request.expired', actor: SYSTEM, data: { requestId, action, escalateTo } };
}

export function messagePosted(by: HumanRef, text: string): NewEvent {
  return { type: 'human-message.posted', actor: humanActor(by.id), data: { by, text } };
}

/**
 * A decision written with `payloadHash: 'shown'` (the `resolve` default) gets the hash of what its
 * decider was shown at that point, as the server records it: the request's payload hash, or that of
 * the latest edit before it. The gates check that an approval is bound to what runs.
 */
function withShownHashes(facts: NewEvent[]): NewEvent[] {
  const shown = new Map<string, { payload: unknown; hash: string }>();
  return facts.map((e) => {
    const data = e.data as { requestId?: string; payload?: unknown; payloadHash?: string; decision?: string };
    if (e.type === 'human-request.opened' && data.requestId)
      shown.set(data.requestId, { payload: data.payload, hash: data.payloadHash ?? '' });
    if (e.type !== 'human-decision.recorded' || !data.requestId) return e;
    const request = shown.get(data.requestId);
    const out =
      data.payloadHash === 'shown' && request ? { ...e, data: { ...data, payloadHash: request.hash } } : e;
    if (data.decision === 'edit' && request) {
      const payload = applyEdit(request.payload, data.payload);
      shown.set(data.requestId, { payload, hash: sha256(payload) });
    }
    return out;
  });
}

// ---- the specification ---------------------------------------------------------------------

type Facts = Array<NewEvent | NewEvent[]>;

/** The facts of one run, from `run.started` on. Immutable: `and` returns a new scenario. */
export class Given {
  readonly events: RunEvent[];

  constructor(
    readonly workflow: Workflow,
    readonly facts: NewEvent[],
    readonly options: RunOptions = {},
  ) {
    // The n-th fact (seq n) happens at T0 + (n - 1) ms unless it says when.
    const timed = [runStarted(workflow, options), ...withShownHashes(facts)].map((e, i) => ({
      ...e,
      at: e.at ?? new Date(T0.getTime() + i).toISOString(),
    }));
    let id = 0;
    this.events = sealBatch(options.runId ?? 'run-1', undefined, timed, {
      now: () => T0,
      newId: () => `ev-${++id}`,
    }).map(upcast);
  }

  /** The fold of the facts (a fresh state each time: evolve updates its accumulator in place). */
  get state(): RunState {
    return foldRun(this.events)!;
  }

  /** More facts. */
  and(...more: Facts): Given {
    return new Given(this.workflow, [...this.facts, ...more.flat()], this.options);
  }

  /** The facts an `append` step decides, appended (the engine's own path). */
  andStep(step: Step): Given {
    if (step.kind !== 'append') throw new Error(`expected an append step, got ${step.kind}`);
    return this.and(...step.events);
  }

  /**
   * Decide the next step. Without ids of its own, the context's ids are `d<seq>-1`, `d<seq>-2` ...
   * (decided at stream position seq): unique along a scenario, and predictable.
   */
  when(ctx: DecideContext | ContextOptions = {}): Then<Step> {
    const state = this.state;
    const context = 'newId' in ctx ? ctx : testContext({ ids: `d${state.seq}`, ...ctx });
    return new Then(decide(state, context));
  }

  /**
   * The engine performing a `call-models` step: each call starts and completes with the given
   * result (in order; a string is a plain text answer).
   */
  andAnswers(
    step: Step,
    ...results: Array<string | { content?: string; toolCalls?: ToolCall[]; structured?: unknown }>
  ): Given {
    if (step.kind !== 'call-models') throw new Error(`expected a call-models step, got ${step.kind}`);
    if (results.length !== step.calls.length)
      throw new Error(`${step.calls.length} calls, ${results.length} results`);
    return this.and(
      ...step.calls.map((plan, i) => {
        const r = results[i];
        return modelCall(
          plan.callId,
          plan.agent.name,
          plan.purpose,
          typeof r === 'string' ? { content: r } : r,
        );
      }),
    );
  }

  /** Run a command (decideOnRequest, postMessage ...) against the state. */
  whenCommand<T>(command: (state: RunState) => T): ThenCommand<T> {
    return new ThenCommand(() => command(this.state));
  }
}

export function given(workflow: Workflow, facts: Facts = [], options: RunOptions = {}): Given {
  return new Given(workflow, facts.flat(), options);
}

export class Then<T> {
  constructor(readonly result: T) {}

  /** The whole result, deeply and strictly equal to `expected` (zod schemas compared as JSON Schema). */
  then(expected: T): T {
    assert.deepStrictEqual(comparable(this.result), comparable(expected));
    return this.result;
  }

  /** A partial check for results too big to write out (call plans with long system prompts). */
  thenMatch(check: (result: T) => void): T {
    check(this.result);
    return this.result;
  }
}

export class ThenCommand<T> {
  constructor(private readonly run: () => T) {}

  /** What the command returns (to append its events in a longer scenario). */
  get result(): T {
    return this.run();
  }

  then(expected: T): T {
    const result = this.run();
    assert.deepStrictEqual(result, expected);
    return result;
  }

  thenMatch(check: (result: T) => void): T {
    const result = this.run();
    check(result);
    return result;
  }

  /** The command refuses with a coded ParleyError (and so appends nothing). */
  thenThrows(code: string, kind?: ParleyError['kind']): ParleyError {
    let caught: unknown;
    try {
      this.run();
    } catch (error) {
      caught = error;
    }
    assert.ok(
      caught instanceof ParleyError,
      `expected a ParleyError ${code}, got ${caught === undefined ? 'no error' : String(caught)}`,
    );
    assert.equal(caught.code, code);
    if (kind) assert.equal(caught.kind, kind);
    return caught;
  }
}
