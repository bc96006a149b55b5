import type { EventEnvelope, StoredEvent } from '@parley/contracts';
import { NotFoundError, SOCKET_ERROR_CODES, ValidationError } from '@parley/contracts';
import type { EventStore, Subscription } from '@parley/event-store';

/**
 * Where a run's watchers can be reached all at once (the gateway: a socket.io room per run, on
 * this instance). A watch opened with a `member` id (its socket's id) may be served by it.
 */
export interface RunRooms {
  /** The ids of the members of the run's room now (undefined: nobody). */
  members(runId: string): ReadonlySet<string> | undefined;
  /** Send `event` once to every member of the run's room but those in `except` (encoded once). */
  broadcast(runId: string, event: EventEnvelope, except: string[]): void;
}

/**
 * One watcher of one run (a socket): it is sent the run's events in seq order, each exactly once.
 * `lastSent` is the seq of the last event sent. A live event at or below it is dropped; one beyond
 * `lastSent + 1` means a gap, filled from the store before anything else is sent. While a read
 * from the store is in flight, live events wait in `pending`.
 */
export class RunWatch {
  lastSent = 0;
  private busy = true;
  private closed = false;
  private pending: EventEnvelope[] = [];

  constructor(
    readonly runId: string,
    private readonly store: EventStore,
    private readonly send: (event: EventEnvelope) => void,
    private readonly onError: (error: unknown) => void,
    /** The id of the watcher in the run's room (its socket's id), if it can be served by a broadcast. */
    readonly member?: string,
  ) {}

  /** Catch up from `afterSeq` (read from the store), then deliver live events. */
  async begin(afterSeq: number): Promise<void> {
    this.lastSent = afterSeq;
    await this.fill();
  }

  /** A live event of this run, from the log's subscription. */
  offer(event: EventEnvelope): void {
    if (this.closed) return;
    if (this.busy) {
      this.pending.push(event);
      return;
    }
    if (event.seq <= this.lastSent) return;
    if (event.seq === this.lastSent + 1) {
      this.emit(event);
      return;
    }
    // a gap: read the missing events from the store first
    this.busy = true;
    this.pending.push(event);
    this.fill().catch(this.onError);
  }

  /**
   * Whether `event` is exactly the next one this watch is to send, with nothing in the way (no
   * read from the store in flight): then a broadcast may deliver it instead of `offer`.
   */
  isNext(event: EventEnvelope): boolean {
    return !this.closed && !this.busy && event.seq === this.lastSent + 1;
  }

  /** `event` (for which `isNext` held) was delivered by a broadcast. */
  broadcasted(event: EventEnvelope): void {
    this.lastSent = event.seq;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Read everything after `lastSent` from the store, then drain what arrived live meanwhile. */
  private async fill(): Promise<void> {
    this.busy = true;
    let stalls = 0;
    try {
      for (;;) {
        const before = this.lastSent;
        const stored = await this.store.read(this.runId, { fromSeq: this.lastSent + 1 });
        if (this.closed) return;
        for (const event of stored) if (event.seq === this.lastSent + 1) this.emit(event);
        const pending = this.pending.sort((a, b) => a.seq - b.seq);
        this.pending = [];
        let gap = false;
        for (const event of pending) {
          if (event.seq <= this.lastSent) continue;
          if (event.seq === this.lastSent + 1) this.emit(event);
          else {
            gap = true; // the store was read before this event was stored: read again
            this.pending.push(event);
          }
        }
        if (!gap) return;
        if (this.lastSent === before) {
          // the store's read side lags its log (it should not): wait a little, then read again
          if (++stalls > 50) {
            throw new Error(
              `run ${this.runId}: the store has no event ${this.lastSent + 1}, but the log delivered seq ${this.pending[0].seq}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    } finally {
      // synchronous from the last await: no live event can slip in between the drain and this
      this.busy = false;
    }
  }

  private emit(event: EventEnvelope): void {
    if (this.closed) return;
    this.lastSent = event.seq;
    this.send(event);
  }
}

/**
 * Delivery of run events to sockets, from the log: ONE subscription to the event store for the
 * whole gateway, fanned out to the watches of each run.
 *
 * With `rooms`, a live event is sent ONCE to the watches that are caught up (its seq is the next
 * one they are to send, they are reading nothing from the store, and they are in the run's room):
 * a room broadcast that excludes every other member of the room. The other watches (catching up,
 * filling a gap, not in the room yet) get it through `offer`, one by one, as before.
 */
export class RunFeed {
  private readonly watches = new Map<string, Set<RunWatch>>();
  private subscription?: Subscription;

  constructor(
    private readonly store: EventStore,
    private readonly onError: (error: unknown) => void,
    private readonly rooms?: RunRooms,
    /** Called before an event of `runId` is sent to anyone (the gateway flushes the run's tokens). */
    private readonly beforeEvent?: (runId: string) => void,
  ) {}

  /** Subscribe from the log's current end (a watch reads its own past from the store). */
  async start(): Promise<void> {
    const position = await this.store.lastPosition();
    this.subscription = this.store.subscribe(position, (stored) => this.dispatch(stored));
    await this.subscription.ready;
  }

  stop(): void {
    this.subscription?.close();
    for (const set of this.watches.values()) for (const watch of set) watch.close();
    this.watches.clear();
  }

  /** Number of runs with at least one watcher (for tests and health). */
  get watchedRuns(): number {
    return this.watches.size;
  }

  /** Register a watch of a run: live events for it are buffered from now on, until `begin`. */
  open(runId: string, send: (event: EventEnvelope) => void, member?: string): RunWatch {
    const watch = new RunWatch(runId, this.store, send, this.onError, member);
    let set = this.watches.get(runId);
    if (!set) this.watches.set(runId, (set = new Set()));
    set.add(watch);
    return watch;
  }

  /**
   * Start an open watch: events after `afterSeq` (default: the run's head, i.e. only new ones)
   * are sent, in order, with no gap and no duplicate. Resolves once the catch-up is sent, with
   * the seq of the last event accounted for. On failure the watch is removed.
   */
  async begin(watch: RunWatch, afterSeq: number | undefined): Promise<{ headSeq: number; replayed: number }> {
    try {
      const head = await this.store.head(watch.runId);
      if (!head) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${watch.runId}`);
      if (afterSeq !== undefined && afterSeq > head.seq) {
        throw new ValidationError(
          SOCKET_ERROR_CODES.afterSeqAhead,
          `afterSeq ${afterSeq} is beyond the run's head (seq ${head.seq})`,
          'afterSeq',
          { headSeq: head.seq },
        );
      }
      const from = afterSeq ?? head.seq;
      await watch.begin(from);
      return { headSeq: watch.lastSent, replayed: watch.lastSent - from };
    } catch (error) {
      this.remove(watch);
      throw error;
    }
  }

  /** `open` and `begin` in one. */
  async watch(
    runId: string,
    afterSeq: number | undefined,
    send: (event: EventEnvelope) => void,
  ): Promise<{ watch: RunWatch; headSeq: number; replayed: number }> {
    const watch = this.open(runId, send);
    return { watch, ...(await this.begin(watch, afterSeq)) };
  }

  remove(watch: RunWatch): void {
    watch.close();
    const set = this.watches.get(watch.runId);
    if (!set) return;
    set.delete(watch);
    if (set.size === 0) this.watches.delete(watch.runId);
  }

  private dispatch(stored: StoredEvent): void {
    const event = stored.event;
    const set = this.watches.get(event.runId);
    if (!set) return;
    this.beforeEvent?.(event.runId);
    const shared = this.broadcast(event, set);
    for (const watch of set) {
      if (shared?.has(watch)) continue;
      try {
        watch.offer(event);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /**
   * Send `event` once to the caught-up watches of its run that are in its room; returns them
   * (their `lastSent` now `event.seq`), or nothing when there was no broadcast.
   */
  private broadcast(event: EventEnvelope, set: Set<RunWatch>): Set<RunWatch> | undefined {
    if (!this.rooms) return undefined;
    const members = this.rooms.members(event.runId);
    if (!members?.size) return undefined;
    const shared = new Set<RunWatch>();
    const ids = new Set<string>();
    for (const watch of set) {
      const id = watch.member;
      if (id !== undefined && !ids.has(id) && members.has(id) && watch.isNext(event)) {
        shared.add(watch);
        ids.add(id);
      }
    }
    if (shared.size === 0) return undefined;
    // every other member of the room (catching up, a gap, a stale member) is left out
    const except: string[] = [];
    for (const id of members) if (!ids.has(id)) except.push(id);
    try {
      this.rooms.broadcast(event.runId, event, except);
    } catch (error) {
      this.onError(error);
      return undefined; // nothing was marked sent: each watch is offered the event on its own
    }
    for (const watch of shared) watch.broadcasted(event);
    return shared;
  }
}
