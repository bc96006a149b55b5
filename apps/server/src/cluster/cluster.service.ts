import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { SpanStatusCode } from '@opentelemetry/api';
import { ParleyError } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { RunEngine } from '@parley/engine';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { EVENT_STORE } from '../core/tokens';
import { RunsProjection } from '../projections/runs.projection';
import { runOfRequest } from '../hitl/commands/request-commands.handlers';
import type { CommandRecord } from './cluster-messages';
import { decodeCommand } from './command-codecs';
import { commandAbout } from './command-router';

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
      execute: (record) => this.runRouted(record),
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

  /**
   * A command another instance routed here. Tracing on: run under a `routed <command>` SERVER span
   * whose parent is the caller's span (the record's traceparent), linked to the run's trace.
   */
  private runRouted(record: CommandRecord): Promise<unknown> {
    const command = decodeCommand(record.type, record.input, record.by);
    const tracing = this.core.observability.tracing;
    if (!tracing) return this.commands.execute(command as never);
    return tracing.inServerSpan(
      `routed ${record.type}`,
      record,
      {
        'parley.command': record.type,
        'parley.command.id': record.commandId,
        'parley.run.id': record.runId,
        'parley.cluster.from': record.from,
      },
      async (span) => {
        const about = await commandAbout(command, (requestId) =>
          runOfRequest(this.projection, this.store, requestId),
        ).catch(() => undefined);
        if (about) tracing.linkCommand(about);
        try {
          return await this.commands.execute(command as never);
        } catch (error) {
          if (!(error instanceof ParleyError) || error.kind === 'unavailable')
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
          if (error instanceof ParleyError) span.setAttribute('parley.error.code', error.code);
          throw error;
        }
      },
    );
  }
}
