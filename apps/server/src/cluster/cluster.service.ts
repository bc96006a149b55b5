import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { EventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { EVENT_STORE } from '../core/tokens';
import { RunsProjection } from '../projections/runs.projection';
import { decodeCommand } from './command-codecs';

/**
 * Kafka mode: joins the owners' group once Nest's command handlers exist, runs the commands other
 * instances route here, drives the runs it gains (those left `running` by a dead or previous owner
 * continue from their log), and stops driving the runs it loses.
 */
@Injectable()
export class ClusterService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Cluster');

  constructor(
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const cluster = this.core.cluster;
    if (!cluster) return;
    await cluster.start({
      execute: (record) =>
        this.commands.execute(decodeCommand(record.type, record.input, record.by) as never),
      gained: async () => {
        await this.projection.caughtUp(await this.store.lastPosition());
        const running = this.projection.runningRuns().filter((runId) => cluster.owns(runId));
        for (const runId of running) this.engine.kick(runId);
        if (running.length)
          this.logger.log(`took over ${running.length} running run(s): ${running.join(', ')}`);
      },
      lost: async (partitions) => {
        const released = await this.engine.release((runId) => !cluster.owns(runId));
        if (released)
          this.logger.log(`released ${released} run(s) of ${partitions.length} partition(s) no longer owned`);
      },
      remoteTokens: (tokens) => {
        for (const token of tokens) this.core.liveTokens.next(token);
      },
    });
  }
}
