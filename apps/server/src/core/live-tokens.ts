import { Subject } from 'rxjs';

export interface LiveToken {
  runId: string;
  agent: string;
  delta: string;
}

/**
 * Tokens while an agent speaks: published live, never stored (only the final message is an event).
 * Those who show them say whose runs they watch (`watchedBy`): a model call of a run nobody watches
 * as it begins is asked whole, not streamed (a stream costs the server about twice the CPU), and a
 * watcher who comes during such a call sees its message when it is appended.
 */
export class LiveTokens extends Subject<LiveToken> {
  private readonly watchers = new Set<(runId: string) => boolean>();

  /** Whether anyone may be watching the run's tokens now. */
  watched(runId: string): boolean {
    for (const watching of this.watchers) if (watching(runId)) return true;
    return false;
  }

  /** Adds a source of watchers (sockets in a run's room, an AG-UI stream, the other instances); returns its removal. */
  watchedBy(watching: (runId: string) => boolean): () => void {
    this.watchers.add(watching);
    return () => this.watchers.delete(watching);
  }
}
