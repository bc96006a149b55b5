import { Injectable } from '@nestjs/common';
import { type IEvent, ofType, Saga } from '@nestjs/cqrs';
import { map, type Observable } from 'rxjs';
import {
  HandoffOverriddenEvent,
  HumanMessagePostedEvent,
  HumanRequestExpiredEvent,
  HumanRequestResolvedEvent,
  type RunEventRecorded,
} from '../core/cqrs-events';
import { ResumeRunCommand } from '../runs/commands/run-commands';

/**
 * A human's decision (or a deadline, a message, a re-route) is a fact; this saga turns it into the
 * command that rehydrates the run from its log and continues it. No I/O here: facts in, commands out.
 */
@Injectable()
export class ResumeRunSaga {
  @Saga()
  resumeAfterHuman = (events$: Observable<IEvent>): Observable<ResumeRunCommand> =>
    events$.pipe(
      ofType(
        HumanRequestResolvedEvent,
        HumanRequestExpiredEvent,
        HumanMessagePostedEvent,
        HandoffOverriddenEvent,
      ),
      map((e: RunEventRecorded) => new ResumeRunCommand(e.event.runId, `${e.event.type}@${e.event.seq}`)),
    );
}
