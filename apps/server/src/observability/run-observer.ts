import { upcast, type RunEvent } from '@parley/contracts';
import type { EventStore, Subscription } from '@parley/event-store';
import { RunTrail } from './run-trail';

/** Metrics and traces: told each new event of a run this instance owns, with the run's trail before it. */
export interface RunEventObserver {
  observe(event: RunEvent, trail: RunTrail): void;
}

const ENDED = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/**
 * Follows the log from its head at start-up (what happened before is history, not news) and hands
 * every new event of a run this instance owns to the observers, in each run's order. A run first
 * seen mid-way (this instance restarted, or took the run over from another) has its trail rebuilt
 * from its stream first, so a model call asked before a crash and answered after it is still timed
 * from its `model-call.started`. Derived from the log alone: nothing the engine does is changed.
 */
export class RunObserver {
  private readonly trails = new Map<string, RunTrail>();
  /** Runs whose trail is being rebuilt: their events wait here, in order. */
  private readonly rebuilding = new Map<string, RunEvent[]>();
  private subscription?: Subscription;
  private failures = 0;

  constructor(
    private readonly store: EventStore,
    private readonly owns: (runId: string) => boolean,
    private readonly observers: RunEventObserver[],
    private readonly warn: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const head = await this.store.lastPosition();
    this.subscription = this.store.subscribe(head, ({ event }) => this.receive(event.runId, event));
    await this.subscription.ready;
  }

  stop(): void {
    this.subscription?.close();
  }

  /** The trail of a run this instance observes (tracing reads a run's trace context from it). */
  trail(runId: string): RunTrail | undefined {
    return this.trails.get(runId);
  }

  private receive(runId: string, stored: Parameters<typeof upcast>[0]): void {
    if (!this.owns(runId)) return;
    let event: RunEvent;
    try {
      event = upcast(stored);
    } catch {
      return; // an unknown type: nothing to measure
    }
    const waiting = this.rebuilding.get(runId);
    if (waiting) {
      waiting.push(event);
      return;
    }
    const trail = this.trails.get(runId);
    if (trail || event.seq === 1) {
      this.handle(trail ?? this.newTrail(runId), event);
      return;
    }
    this.rebuilding.set(runId, [event]);
    void this.rebuild(runId);
  }

  private newTrail(runId: string): RunTrail {
    const trail = new RunTrail(runId);
    this.trails.set(runId, trail);
    return trail;
  }

  private async rebuild(runId: string): Promise<void> {
    const trail = new RunTrail(runId);
    const first = this.rebuilding.get(runId)![0];
    try {
      for await (const stored of this.store.stream(runId)) {
        if (stored.seq >= first.seq) break;
        trail.apply(upcast(stored));
      }
    } catch (error) {
      this.warn(`observability: could not read run ${runId}'s history: ${(error as Error).message}`);
    }
    this.trails.set(runId, trail);
    const waiting = this.rebuilding.get(runId) ?? [];
    this.rebuilding.delete(runId);
    for (const event of waiting) this.handle(trail, event);
  }

  private handle(trail: RunTrail, event: RunEvent): void {
    for (const observer of this.observers) {
      try {
        observer.observe(event, trail);
      } catch (error) {
        // never let observing break the log's subscribers; say so, a few times
        if (this.failures++ < 5)
          this.warn(`observability: ${event.type} of run ${event.runId}: ${(error as Error).stack}`);
      }
    }
    trail.apply(event);
    if (ENDED.has(event.type)) this.trails.delete(event.runId);
  }
}
