import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { EventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { EVENT_STORE } from '../core/tokens';
import { RunsProjection } from '../projections/runs.projection';

const ATTEMPTS = 5;

/**
 * When the event log is reachable again after an outage (Kafka: the brokers answer; SQLite: the
 * storage takes writes again after a disk-full, I/O or read-only fault), catch up with it (whatever
 * landed while this instance could not tell, acknowledged or not, is read into the local store
 * first), then drive again every `running` run this instance owns. A step whose append was refused
 * or failed during the outage left its run `running` with an intent and no result: the engine asks
 * the model again under the same call id, or runs the tool again under the same idempotency key.
 * Runs this instance owns only after its owners' group rejoins are kicked by the cluster then.
 */
@Injectable()
export class EventLogRecoveryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EventLog');
  private unsubscribe?: () => void;
  private recovering?: Promise<void>;
  private closed = false;

  constructor(
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
  ) {}

  onApplicationBootstrap(): void {
    const store = this.store;
    this.unsubscribe = store.onReachabilityChange((change) => {
      if (!change.reachable) {
        this.logger.warn(
          store.kind === 'kafka'
            ? `event log unreachable: new work is refused (503 EVENT_LOG.UNAVAILABLE) until it answers`
            : `event log cannot be written (${change.error}): new work is refused (503 EVENT_STORE.UNAVAILABLE) until the storage takes writes again`,
        );
        return;
      }
      this.recovering ??= this.recover(store, change.downMs ?? 0).finally(
        () => (this.recovering = undefined),
      );
    });
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.unsubscribe?.();
  }

  private async recover(store: EventStore, downMs: number): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closed; attempt++) {
      try {
        await store.waitForCatchUp(60_000);
        await this.projection.caughtUp(await store.lastPosition());
        const running = this.projection.runningRuns().filter((runId) => this.core.ownership.owns(runId));
        for (const runId of running) this.engine.kick(runId);
        this.logger.log(
          `event log reachable again after ${downMs} ms; caught up in ${Date.now() - started} ms; resumed ${running.length} running run(s) owned here`,
        );
        return;
      } catch (error) {
        if (!store.reachabilityStatus().reachable) return; // down again: the next recovery starts over
        this.logger.warn(`recovery attempt ${attempt}/${ATTEMPTS} failed: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }
}
