import type { DecisionBody } from '@parley/contracts';
import type { Human } from '../../auth/identity';

export class DecideRequestCommand {
  constructor(
    readonly requestId: string,
    readonly by: Human,
    readonly body: DecisionBody,
  ) {}
}
export class ClaimRequestCommand {
  constructor(
    readonly requestId: string,
    readonly by: Human,
  ) {}
}
/** A request's deadline passed: close it with its timeout action (issued by the deadline scheduler). */
export class ExpireRequestCommand {
  constructor(
    readonly runId: string,
    readonly requestId: string,
  ) {}
}
