import type { Socket } from 'socket.io';

/**
 * The parts of engine.io and ws that a burst touches (engine.io 6 / ws 8; not public API, hence
 * every access is checked and anything unexpected falls back to engine.io's own path).
 */
interface EngineConnection {
  readyState: string;
  flush(): void;
  transport?: {
    name?: string;
    writable?: boolean;
    socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
  };
}

/**
 * One write per socket for a burst of packets. A run's events often come several at once (a
 * fetched Kafka batch, one append of a step's facts), and each goes to every watcher. engine.io
 * writes the first packet at once and queues the others until that write is done, then writes each
 * in a syscall of its own: for a burst of 4 events to 500 watchers, 2,000 `writev` calls, most of the
 * fan-out's CPU on a busy instance. Holding the sockets of a room for the rest of the tick (their
 * WebSocket transport marked busy, so engine.io queues every packet in order), then flushing each
 * with its TCP socket corked, sends the whole burst in one `writev` per socket.
 *
 * Order is engine.io's: every packet of a held socket (events, tokens, acks) waits in its write
 * buffer, in the order sent. Only WebSocket transports that are idle are held; a socket that closed
 * meanwhile is skipped, one closing is flushed (engine.io's close waits for its buffer to drain). The
 * hold ends in a microtask: after the synchronous burst, before any I/O.
 */
export class BurstWriter {
  private readonly held = new Set<EngineConnection>();
  private scheduled = false;
  /** Sockets flushed by a burst, and bursts (for tests and health). */
  readonly stats = { bursts: 0, flushed: 0 };

  /** `onError`: a socket whose flush threw (the others are flushed all the same). */
  constructor(private readonly onError: (error: unknown) => void = () => undefined) {}

  /** Hold these sockets until the end of the current tick. */
  hold(sockets: Iterable<Socket>): void {
    for (const socket of sockets) {
      const conn = (socket as unknown as { conn?: EngineConnection }).conn;
      const transport = conn?.transport;
      if (!conn || !transport || this.held.has(conn)) continue;
      if (transport.name !== 'websocket' || transport.writable !== true || conn.readyState !== 'open')
        continue;
      transport.writable = false; // engine.io queues what is sent meanwhile
      this.held.add(conn);
    }
    if (this.held.size > 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.release());
    }
  }

  /** Flush every held socket: its queued packets in one corked write. */
  release(): void {
    this.scheduled = false;
    if (this.held.size === 0) return;
    const held = [...this.held];
    this.held.clear();
    this.stats.bursts += 1;
    for (const conn of held) {
      const transport = conn.transport;
      if (!transport) continue;
      transport.writable = true;
      // A socket closing meanwhile is flushed too: engine.io closes it once its buffer has drained.
      if (conn.readyState === 'closed') continue;
      const tcp = transport.socket?._socket;
      tcp?.cork?.();
      try {
        conn.flush();
        this.stats.flushed += 1;
      } catch (error) {
        this.onError(error);
      } finally {
        tcp?.uncork?.();
      }
    }
  }
}
