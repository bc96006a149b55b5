import type { StoredEvent } from '@parley/contracts';
import type { EventListener, Subscription } from './event-store.port';

type PageReader = (afterPosition: number, limit: number) => StoredEvent[] | Promise<StoredEvent[]>;

const PAGE = 500;

/**
 * Subscriptions delivered from the log itself, never from memory: each subscriber keeps a cursor
 * (the last position delivered) and, whenever the log grows, reads what lies after it, in order.
 * A slow or late subscriber therefore misses nothing and never sees an event twice.
 */
export class LogSubscriptions {
  private readonly active = new Set<Cursor>();

  constructor(private readonly readPage: PageReader) {}

  subscribe(afterPosition: number, listener: EventListener): Subscription {
    const cursor = new Cursor(afterPosition, listener, this.readPage, () => this.active.delete(cursor));
    this.active.add(cursor);
    cursor.pump();
    return cursor;
  }

  /**
   * Call after events are stored, with them when known: a subscriber whose cursor stands right
   * before them takes them as they are (the same events, in the same order, that a read of the log
   * would give); any other catches up from the log.
   */
  notify(stored?: StoredEvent[]): void {
    for (const cursor of this.active) cursor.pump(stored);
  }

  closeAll(): void {
    for (const cursor of [...this.active]) cursor.close();
  }
}

function contiguous(stored: StoredEvent[]): boolean {
  for (let i = 1; i < stored.length; i++) if (stored[i].position !== stored[i - 1].position + 1) return false;
  return true;
}

class Cursor implements Subscription {
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private pumping = false;
  private again = false;
  private closed = false;

  constructor(
    private position: number,
    private readonly listener: EventListener,
    private readonly readPage: PageReader,
    private readonly onClose: () => void,
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  pump(stored?: StoredEvent[]): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    if (stored?.length && stored[0].position === this.position + 1 && contiguous(stored))
      void this.offer(stored);
    else void this.drain();
  }

  /** Deliver events just stored, without reading them back; then continue from the log if needed. */
  private async offer(stored: StoredEvent[]): Promise<void> {
    // Deliver in a microtask queued now: after the store's own bookkeeping, and BEFORE the appender's
    // continuation (the store resolves the append after notifying). Watchers then get a run's events
    // before the engine starts its next effect (a model request), not after it: delivering on the
    // next turn of the event loop (setImmediate) added 2 to 9 ms to every event's fan-out.
    await Promise.resolve();
    try {
      for (const event of stored) {
        if (this.closed) return;
        this.position = event.position;
        this.listener(event);
      }
    } finally {
      this.pumping = false;
    }
    if (this.again) {
      this.again = false;
      this.pump();
    }
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        for (;;) {
          const page = await this.readPage(this.position, PAGE);
          for (const stored of page) {
            if (this.closed) return;
            this.position = stored.position;
            this.listener(stored);
          }
          if (page.length < PAGE) break;
        }
        this.markReady();
      } while (this.again && !this.closed);
    } finally {
      this.pumping = false;
    }
  }

  close(): void {
    this.closed = true;
    this.onClose();
    this.markReady();
  }
}
