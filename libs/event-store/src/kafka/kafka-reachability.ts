import type { Admin, Kafka } from 'kafkajs';
import type { EventLogReachability, ReachabilityChange } from '../event-store.port';

/**
 * Errors that mean the brokers (or the partition leaders) cannot be reached, as opposed to a bad
 * request: connection refused or closed, timeouts, no leader, not enough in-sync replicas, and
 * kafkajs' "retries exceeded" wrapping one of those.
 */
export function isUnreachableError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current = error as {
    name?: string;
    type?: string;
    retriable?: boolean;
    originalError?: unknown;
    cause?: unknown;
  };
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    if (/^KafkaJS(Connection|ConnectionClosed|RequestTimeout|BrokerNotFound)Error$/.test(current.name ?? ''))
      return true;
    if (
      /^(NOT_ENOUGH_REPLICAS|NOT_ENOUGH_REPLICAS_AFTER_APPEND|LEADER_NOT_AVAILABLE|NOT_LEADER_FOR_PARTITION|REQUEST_TIMED_OUT|NETWORK_EXCEPTION|COORDINATOR_NOT_AVAILABLE|BROKER_NOT_AVAILABLE|KAFKA_STORAGE_ERROR)$/.test(
        current.type ?? '',
      )
    )
      return true;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return false;
}

/**
 * Whether the Kafka event log answers, from real signals: a cheap periodic probe (a ListOffsets
 * round-trip on the run-events topic through its own client, no retries, short timeouts), and the
 * outcome of every produce and every consumer crash reported by the adapter. Any failure marks
 * the log unreachable at once; only a successful round-trip (a probe or an acknowledged produce)
 * marks it reachable again.
 */
export class KafkaReachability {
  private reachable = true;
  private since = new Date();
  private lastError?: string;
  private lastOkAt?: Date;
  private outages = 0;
  private readonly admin: Admin;
  private timer?: NodeJS.Timeout;
  private probing?: Promise<boolean>;
  private lastProbeStartedAt = 0;
  private connected = false;
  private stopped = false;
  private readonly listeners = new Set<(change: ReachabilityChange) => void>();

  /**
   * `quorum`: with several brokers, whether a majority of them answers. A failed probe asks it
   * before saying unreachable: one broker of three stopped or killed leaves the partitions it led
   * without a leader for a few seconds (their appends fail and are retried or refused one by one),
   * not the whole log unreachable.
   */
  constructor(
    probeKafka: Kafka,
    private readonly topic: string,
    private readonly intervalMs: number,
    private readonly quorum?: () => Promise<boolean>,
  ) {
    this.admin = probeKafka.admin({ retry: { retries: 0 } });
  }

  snapshot(): EventLogReachability {
    return {
      kind: 'kafka',
      reachable: this.reachable,
      since: this.since.toISOString(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lastOkAt ? { lastOkAt: this.lastOkAt.toISOString() } : {}),
      outages: this.outages,
    };
  }

  isReachable(): boolean {
    return this.reachable;
  }

  onChange(listener: (change: ReachabilityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A round-trip to the brokers succeeded. */
  ok(): void {
    this.lastOkAt = new Date();
    if (this.reachable) return;
    const downMs = Date.now() - this.since.getTime();
    this.reachable = true;
    this.since = new Date();
    this.notify({ reachable: true, downMs });
  }

  /**
   * A round-trip failed because the brokers could not be reached. `startedAt`: when the failed
   * operation began; a failure of an operation that began before a later success (a produce that
   * retried through the whole outage) is stale evidence and does not mark the log unreachable.
   * Returns whether the log is now marked unreachable.
   */
  fail(source: string, error: unknown, startedAt = Date.now()): boolean {
    const message = `${source}: ${error instanceof Error ? error.message : String(error)}`;
    this.lastError = message;
    if (!this.reachable) return true;
    if (this.lastOkAt && this.lastOkAt.getTime() > startedAt) return false;
    this.reachable = false;
    this.since = new Date();
    this.outages += 1;
    this.notify({ reachable: false, error: message });
    return true;
  }

  /**
   * A failure the caller must not answer before the verdict is known: counted at once like
   * `fail`, or, when a success came in after the operation began (the brokers answered, then
   * went away while it was under way, or came back while it retried), decided by a probe now.
   * Either way, once this resolves, an append refused because of it is followed by refusals at
   * once, not by a new producer waiting on timeouts.
   */
  async confirmFailure(source: string, error: unknown, startedAt: number): Promise<void> {
    if (this.fail(source, error, startedAt)) return;
    const failedAt = Date.now();
    // A probe already under way may have had its answer before the failure: ask again then.
    while ((await this.probe()) && this.lastProbeStartedAt < failedAt && !this.stopped);
  }

  start(): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.listeners.clear();
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }

  /**
   * One round-trip: Metadata and ListOffsets of the topic (answers only if every partition has a
   * serving leader). A probe under way is shared, not doubled.
   */
  probe(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(this.reachable);
    this.probing ??= this.probeOnce().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probeOnce(): Promise<boolean> {
    const started = Date.now();
    this.lastProbeStartedAt = started;
    try {
      if (!this.connected) {
        await this.admin.connect();
        this.connected = true;
      }
      await this.admin.fetchTopicOffsets(this.topic);
      if (!this.stopped) this.ok();
      return true;
    } catch (error) {
      if (this.quorum && !this.stopped && (await this.quorum().catch(() => false))) {
        this.connected = false;
        await this.admin.disconnect().catch(() => undefined);
        if (!this.stopped) this.ok();
        return true;
      }
      if (!this.stopped) this.fail('probe', error, started);
      // A fresh connection next time: kafkajs keeps stale broker connections and metadata otherwise.
      this.connected = false;
      await this.admin.disconnect().catch(() => undefined);
      return false;
    }
  }

  private notify(change: ReachabilityChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
