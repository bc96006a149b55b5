import type { IEvent } from '@nestjs/cqrs';
import type { RunEvent, RunEventOf } from '@parley/contracts';

/** Any fact appended to a run stream, on the CQRS EventBus. */
export class RunEventRecorded<T extends RunEvent = RunEvent> implements IEvent {
  constructor(readonly event: T) {}
}

/** The facts sagas react to have classes of their own: routing in @nestjs/cqrs is by class. */
export class HumanRequestResolvedEvent extends RunEventRecorded<RunEventOf<'human-request.resolved'>> {}
export class HumanRequestExpiredEvent extends RunEventRecorded<RunEventOf<'human-request.expired'>> {}
export class HumanMessagePostedEvent extends RunEventRecorded<RunEventOf<'human-message.posted'>> {}
export class HandoffOverriddenEvent extends RunEventRecorded<RunEventOf<'handoff.overridden'>> {}

/** type → class, for the types that have one; everything else travels as RunEventRecorded. */
const CLASSES: Partial<Record<RunEvent['type'], new (event: never) => RunEventRecorded>> = {
  'human-request.resolved': HumanRequestResolvedEvent,
  'human-request.expired': HumanRequestExpiredEvent,
  'human-message.posted': HumanMessagePostedEvent,
  'handoff.overridden': HandoffOverriddenEvent,
};

export function toCqrsEvent(event: RunEvent): RunEventRecorded {
  const Class = CLASSES[event.type];
  return Class ? new Class(event as never) : new RunEventRecorded(event);
}

/**
 * The appended events that go on the EventBus: those of a type with a class, the only ones a saga
 * listens to (no `@EventsHandler` takes the others). Publishing every event cost an rxjs pass
 * through each saga's filter per event, for nothing; a handler of another type adds it to CLASSES.
 */
export function cqrsEventsOf(events: readonly RunEvent[]): RunEventRecorded[] {
  const out: RunEventRecorded[] = [];
  for (const event of events) if (CLASSES[event.type]) out.push(toCqrsEvent(event));
  return out;
}
