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

  /** Call after events are stored. */
  notify(): void {
    for (const cursor of this.active) cursor.pump();
  }

  closeAll(): void {
    for (const cursor of [...this.active]) cursor.close();
  }
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

  pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.drain();
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
