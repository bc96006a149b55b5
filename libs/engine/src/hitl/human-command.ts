import type { CommandInput, NewEvent } from '@parley/contracts';
import {
  cancelRun,
  claimRequest,
  releaseRequest,
  decideOnRequest,
  expireRequest,
  overrideHandoff,
  postMessage,
  type Acting,
  type DecisionOutcome,
} from '../human-commands';
import type { HumanRequestState, RunState } from '../run-state';
import { retryRun } from './retry-run';

/** The commands a human (or an automation's token, where allowed) gives a run: the catalogue's inputs. */
type Catalogued<N extends string, I> = { type: N } & I;
export type HumanCommand =
  | Catalogued<'request.decide', CommandInput<'request.decide'>>
  | Catalogued<'request.claim', CommandInput<'request.claim'>>
  | Catalogued<'request.release', CommandInput<'request.release'>>
  | Catalogued<'request.expire', CommandInput<'request.expire'>>
  | Catalogued<'run.message', CommandInput<'run.message'>>
  | Catalogued<'run.handoff', CommandInput<'run.handoff'>>
  | Catalogued<'run.cancel', CommandInput<'run.cancel'>>
  | Catalogued<'run.retry', CommandInput<'run.retry'>>;

/** What each command decides besides its events. */
export interface HumanCommandResults {
  'request.decide': DecisionOutcome;
  'request.claim': HumanRequestState;
  'request.release': undefined;
  'request.expire': undefined;
  'run.message': number;
  'run.handoff': undefined;
  'run.cancel': undefined;
  'run.retry': undefined;
}

export interface HumanCommandContext {
  now: Date;
  /** Checks an edited payload before a decision is recorded (hitl/edits.ts, with the tool registry). */
  validateEdit: (request: HumanRequestState, payload: unknown) => void;
}

/**
 * Every human command, decided against the run's own state: one entry point, one exhaustive switch.
 * Pure; coded errors append nothing. `run.message`'s result is how many of its events are the
 * message (what the run does next may follow in the same append).
 */
export function decideHumanCommand<C extends HumanCommand>(
  state: RunState,
  who: Acting,
  command: C,
  ctx: HumanCommandContext,
): { events: NewEvent[]; result: HumanCommandResults[C['type']] } {
  type Result = HumanCommandResults[C['type']];
  const c: HumanCommand = command;
  const plain = (events: NewEvent[], result?: unknown) => ({ events, result: result as Result });
  switch (c.type) {
    case 'request.decide': {
      const { type: _type, requestId, ...input } = c;
      const { events, result } = decideOnRequest(state, requestId, who, input, ctx.now, ctx.validateEdit);
      return plain(events, result);
    }
    case 'request.claim': {
      const { events, result } = claimRequest(state, c.requestId, who);
      return plain(events, result);
    }
    case 'request.release':
      return plain(releaseRequest(state, c.requestId, who));
    case 'request.expire':
      return plain(expireRequest(state, c.requestId, ctx.now));
    case 'run.message': {
      const events = postMessage(state, who, c.text);
      return plain(events, events.length);
    }
    case 'run.handoff':
      return plain(overrideHandoff(state, who, c.to, c.reason));
    case 'run.cancel':
      return plain(cancelRun(state, who, c.reason));
    case 'run.retry':
      return plain(retryRun(state, who, c.reason));
    default: {
      const unknown: never = c;
      throw new Error(`unknown human command ${(unknown as { type: string }).type}`);
    }
  }
}
