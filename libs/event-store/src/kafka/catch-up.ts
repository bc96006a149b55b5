import type { OffsetCheckpoints } from './offset-checkpoints';

interface CatchUpWaiter {
  targets: Map<number, { low: number; high: number }>;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Waiting until the local store has applied every record up to the topic's high watermarks as they
 * were when asked. The materializer calls `check` after each batch it has applied.
 */
export class CatchUp {
  private readonly waiters = new Set<CatchUpWaiter>();

  constructor(
    private readonly topic: string,
    private readonly offsets: OffsetCheckpoints,
    private readonly highWatermarks: () => Promise<Array<{ partition: number; high: string; low: string }>>,
  ) {}

  /** Until the local store has every record of `partitions` (default: all) up to today's high watermarks. */
  async wait(timeoutMs: number, partitions?: number[]): Promise<void> {
    const only = partitions && new Set(partitions);
    const offsets = (await this.highWatermarks()).filter((o) => !only || only.has(o.partition));
    const targets = new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    if (this.isCaughtUp(targets)) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: CatchUpWaiter = {
        targets,
        resolve,
        reject,
        timer: setTimeout(() => {
          const behind = [...targets]
            .filter(([p, t]) => (this.offsets.next(p) ?? t.low) < t.high)
            .map(([p, t]) => `${p}: ${this.offsets.next(p) ?? t.low}/${t.high}`);
          this.settle(
            waiter,
            new Error(
              `${this.topic} not caught up after ${timeoutMs} ms (partition: next/high ${behind.join(', ')})`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolve the waiters whose targets are reached. */
  check(): void {
    for (const waiter of [...this.waiters]) if (this.isCaughtUp(waiter.targets)) this.settle(waiter);
  }

  /** Fail every waiter at once (the consumer stopped, the store is closing). */
  failAll(error: Error): void {
    for (const waiter of [...this.waiters]) this.settle(waiter, error);
  }

  private isCaughtUp(targets: CatchUpWaiter['targets']): boolean {
    for (const [partition, { low, high }] of targets) {
      if ((this.offsets.next(partition) ?? low) < high) return false;
    }
    return true;
  }

  private settle(waiter: CatchUpWaiter, error?: Error): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}
