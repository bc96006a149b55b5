import { commandOf } from '../../commands/command-of';

export class DecideRequestCommand extends commandOf('request.decide') {}
export class ClaimRequestCommand extends commandOf('request.claim') {}
export class ReleaseRequestCommand extends commandOf('request.release') {}
/** A request's deadline passed: close it with its timeout action (issued by the deadline scheduler). */
export class ExpireRequestCommand extends commandOf('request.expire') {}
