import { Subject } from 'rxjs';

export interface LiveToken {
  runId: string;
  agent: string;
  delta: string;
}

/** Tokens while an agent speaks: published live, never stored (only the final message is an event). */
export class LiveTokens extends Subject<LiveToken> {}
