import type { LiveToken } from '../core/live-tokens';

/**
 * Coalesces an agent's live tokens before they go to sockets: the deltas of one (run, agent) that
 * arrive within `windowMs` of the first one are sent as ONE `run:token` (their concatenation, in
 * order). A model streaming fast produces a token every few hundred microseconds; sending each to
 * every watcher costs one WebSocket frame per token per socket, which at hundreds of watchers
 * starves the event loop that also delivers the run's events. Humans do not see a 25 ms batch.
 *
 * `flushRun(runId)` sends a run's pending deltas at once: the gateway calls it before it sends an
 * event of that run, so a watcher still gets an agent's tokens before its `model-call.completed`.
 */
export class TokenCoalescer {
  private readonly pending = new Map<string, LiveToken>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (token: LiveToken) => void,
    private readonly windowMs = 25,
    /** A pending delta this long is sent at once (bounds what a run can hold here). */
    private readonly maxDeltaChars = 4096,
  ) {}

  push(token: LiveToken): void {
    const key = `${token.runId}\u0000${token.agent}`;
    const pending = this.pending.get(key);
    if (pending) pending.delta += token.delta;
    else this.pending.set(key, { runId: token.runId, agent: token.agent, delta: token.delta });
    const current = pending ?? this.pending.get(key)!;
    if (current.delta.length >= this.maxDeltaChars) {
      this.pending.delete(key);
      this.send(current);
    }
    if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flushAll(), this.windowMs);
  }

  /** Send the run's pending deltas now (before an event of the run). */
  flushRun(runId: string): void {
    for (const [key, token] of this.pending) {
      if (token.runId !== runId) continue;
      this.pending.delete(key);
      this.send(token);
    }
  }

  flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const tokens = [...this.pending.values()];
    this.pending.clear();
    for (const token of tokens) this.send(token);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}
