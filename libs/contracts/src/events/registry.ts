import { z } from 'zod';
import { EventEnvelopeSchema, type Actor, type EventEnvelope } from '../envelope';
import { ValidationError } from '../errors';
import * as human from './human.events';
import * as model from './model.events';
import * as pattern from './pattern.events';
import * as run from './run.events';
import * as tool from './tool.events';

type ActorKind = Actor['kind'];
interface EventDefinition<S extends z.ZodType = z.ZodType> {
  /** The current schema version of `data`. Older stored versions are upcast on read. */
  version: number;
  data: S;
  /** Who may be the actor of this fact. An agent can never produce a human decision. */
  actors: readonly ActorKind[];
  /** upcasters[v] turns data of version v into version v + 1. */
  upcasters?: Record<number, (data: unknown) => unknown>;
}

const def = <S extends z.ZodType>(
  data: S,
  actors: readonly ActorKind[],
  version = 1,
  upcasters?: Record<number, (data: unknown) => unknown>,
): EventDefinition<S> => ({ version, data, actors, upcasters });

const SYSTEM = ['system'] as const;
const HUMAN = ['human'] as const;
const AGENT = ['agent'] as const;

/**
 * Every event type, its data schema and who may produce it. Type names are stable forever
 * (facts, in the past tense); a shape change bumps `version` and adds an upcaster.
 */
export const EVENT_REGISTRY = {
  'run.started': def(run.RunStarted, ['human', 'agent', 'service', 'system']),
  'run.completed': def(run.RunCompleted, SYSTEM),
  'run.failed': def(run.RunFailed, SYSTEM),
  'run.cancelled': def(run.RunCancelled, ['human', 'agent', 'service', 'system']),
  'run.retried': def(run.RunRetried, ['human', 'agent', 'service']),
  'run.imported': def(run.RunImported, ['human', 'agent', 'service']),
  'model-call.started': def(model.ModelCallStarted, AGENT),
  'model-call.completed': def(model.ModelCallCompleted, AGENT),
  'model-call.failed': def(model.ModelCallFailed, AGENT),
  'model-call.retried': def(model.ModelCallRetried, AGENT),
  'tool-call.requested': def(tool.ToolCallRequested, AGENT),
  'tool-call.started': def(tool.ToolCallStarted, SYSTEM),
  'tool-call.completed': def(tool.ToolCallCompleted, SYSTEM),
  'tool-call.failed': def(tool.ToolCallFailed, SYSTEM),
  'tool-call.retried': def(tool.ToolCallRetried, SYSTEM),
  'tool-call.rejected': def(tool.ToolCallRejected, ['human', 'system']),
  'human-request.opened': def(human.HumanRequestOpened, SYSTEM),
  'human-request.claimed': def(human.HumanRequestClaimed, HUMAN),
  'human-request.released': def(human.HumanRequestReleased, HUMAN),
  'human-decision.recorded': def(human.HumanDecisionRecorded, HUMAN),
  'human-request.resolved': def(human.HumanRequestResolved, ['human', 'system']),
  'human-request.expired': def(human.HumanRequestExpired, SYSTEM),
  'human-request.closed': def(human.HumanRequestClosed, ['human', 'agent', 'service', 'system']),
  'human-message.posted': def(human.HumanMessagePosted, HUMAN, 2, { 1: human.upcastHumanMessageV1 }),
  'handoff.overridden': def(human.HandoffOverridden, HUMAN),
  'handoff.performed': def(pattern.HandoffPerformed, ['agent', 'system']),
  'escalation.raised': def(pattern.EscalationRaised, ['agent', 'system']),
  'plan.recorded': def(pattern.PlanRecorded, ['agent', 'human']),
  'ledger.updated': def(pattern.LedgerUpdated, AGENT),
  'speaker.selected': def(pattern.SpeakerSelected, ['agent', 'system']),
} as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof EVENT_REGISTRY;
export const EVENT_TYPES = Object.keys(EVENT_REGISTRY) as EventType[];
export type EventData<T extends EventType> = z.output<(typeof EVENT_REGISTRY)[T]['data']>;
export type EventDataInput<T extends EventType> = z.input<(typeof EVENT_REGISTRY)[T]['data']>;

/** One member per event type: `switch (event.type)` narrows `data`. */
export type RunEvent = { [T in EventType]: EventEnvelope<T, EventData<T>> }[EventType];
export type RunEventOf<T extends EventType> = Extract<RunEvent, { type: T }>;

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_REGISTRY, type);
}

export function currentVersion(type: EventType): number {
  return EVENT_REGISTRY[type].version;
}

/** Check a new event's data and actor before it is appended. Returns the parsed data (defaults applied). */
export function validateNewEvent(type: string, data: unknown, actor: Actor): unknown {
  if (!isEventType(type))
    throw new ValidationError('EVENT.UNKNOWN_TYPE', `unknown event type "${type}"`, 'type');
  const definition: EventDefinition = EVENT_REGISTRY[type];
  if (!definition.actors.includes(actor.kind)) {
    throw new ValidationError(
      'EVENT.ACTOR_NOT_ALLOWED',
      `an actor of kind "${actor.kind}" may not produce "${type}"`,
      'actor.kind',
    );
  }
  const parsed = definition.data.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['data', ...issue.path.map(String)].join('.');
    throw new ValidationError('EVENT.INVALID_DATA', `${type} ${path}: ${issue.message}`, path);
  }
  return parsed.data;
}

/**
 * Read side: bring a stored event to its type's current shape. The stored event (and its hash)
 * is never changed; verification always runs on the stored form.
 */
export function upcast(event: EventEnvelope): RunEvent {
  if (!isEventType(event.type)) {
    throw new ValidationError(
      'EVENT.UNKNOWN_TYPE',
      `unknown event type "${event.type}" at seq ${event.seq}`,
      'type',
    );
  }
  const definition: EventDefinition = EVENT_REGISTRY[event.type];
  // Already current (nearly always): the event as it is, not a copy (events are never mutated).
  if (event.schemaVersion === definition.version) return event as RunEvent;
  let data = event.data;
  for (let v = event.schemaVersion; v < definition.version; v++) {
    const step = definition.upcasters?.[v];
    if (!step) throw new Error(`no upcaster for ${event.type} from version ${v}`);
    data = step(data);
  }
  return { ...event, schemaVersion: definition.version, data } as RunEvent;
}

/**
 * Why a stored event (an imported one, or one read back) could not have been appended here, or
 * undefined: the envelope's shape, a known type at a version this registry knows, an actor of a kind
 * allowed to produce that type, and data that is valid for it (after upcasting). What an append
 * checks, applied to an event that arrives already sealed.
 */
export function storedEventProblem(event: unknown): string | undefined {
  const envelope = EventEnvelopeSchema.safeParse(event);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    return `${issue.path.join('.') || 'the event'}: ${issue.message}`;
  }
  const e = envelope.data as EventEnvelope;
  if (!isEventType(e.type)) return `unknown event type "${e.type}"`;
  const definition: EventDefinition = EVENT_REGISTRY[e.type];
  if (e.schemaVersion > definition.version)
    return `${e.type} version ${e.schemaVersion} is newer than this server knows (${definition.version})`;
  if (!definition.actors.includes(e.actor.kind))
    return `an actor of kind "${e.actor.kind}" may not produce "${e.type}"`;
  let data: unknown;
  try {
    data = upcast(e).data;
  } catch (error) {
    return (error as Error).message;
  }
  const parsed = definition.data.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${e.type} ${['data', ...issue.path.map(String)].join('.')}: ${issue.message}`;
  }
  return undefined;
}
