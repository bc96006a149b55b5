import {
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { RunEngine } from '@parley/engine';
import { SqliteEventStore } from '@parley/event-store';
import { IdentityService } from '../auth/identity';
import { PARLEY_CONFIG } from '../config/config';
import { RunsProjection } from '../projections/runs.projection';
import { REFUNDS } from './tokens';
import { WorkflowCatalog } from '../workflows/workflow-catalog';
import type { ParleyCore } from './core';
import { cqrsEventsOf } from './cqrs-events';
import { LiveTokens } from './live-tokens';
import { ParleyMetrics } from '../observability/metrics/parley-metrics';
import { EVENT_STORE } from './tokens';
import { FileAnchorLog } from '../signing/anchor-log';

export const PARLEY_CORE = Symbol('PARLEY_CORE');
const from = <T>(pick: (core: ParleyCore) => T) => ({ useFactory: pick, inject: [PARLEY_CORE] });

const PROVIDERS = [
  { provide: PARLEY_CONFIG, ...from((c) => c.config) },
  { provide: EVENT_STORE, ...from((c) => c.store) },
  { provide: RunEngine, ...from((c) => c.engine) },
  { provide: RunsProjection, ...from((c) => c.projection) },
  { provide: WorkflowCatalog, ...from((c) => c.workflows) },
  { provide: REFUNDS, ...from((c) => c.ledger) },
  { provide: IdentityService, ...from((c) => c.identity) },
  { provide: LiveTokens, ...from((c) => c.liveTokens) },
  { provide: ParleyMetrics, ...from((c) => c.observability.metrics) },
];

/**
 * The core is built before Nest (main.ts → serve.ts → createCore), so that bad configuration stops the server
 * with one clear line; this module hands its parts to Nest's injector.
 */
@Global()
@Module({})
export class CoreModule implements OnApplicationBootstrap, OnApplicationShutdown {
  static forRoot(core: ParleyCore): DynamicModule {
    return {
      module: CoreModule,
      providers: [{ provide: PARLEY_CORE, useValue: core }, ...PROVIDERS],
      exports: [PARLEY_CORE, ...PROVIDERS.map((p) => p.provide)],
    };
  }

  private readonly logger = new Logger('Parley');

  constructor(
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
    @Inject(EventBus) private readonly eventBus: EventBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.core.publish = (events) => {
      const published = cqrsEventsOf(events);
      if (published.length) this.eventBus.publishAll(published);
    };
    const started = Date.now();
    const kept = this.core.readModel ? await this.core.readModel.load(this.core.store) : {};
    if (kept.why)
      this.logger.warn(
        `read model: not using ${this.core.readModel!.file}: ${kept.why}; rebuilding it from the log`,
      );
    await this.core.projection.start(kept.state);
    // before any run is kicked: the metrics and spans of the resumed runs' steps are seen too
    await this.core.observability.start({
      store: this.core.store,
      projection: this.core.projection,
      owns: (runId) => this.core.ownership.owns(runId),
      ownedPartitions: this.core.cluster && (() => this.core.cluster!.ownedPartitions().length),
      ...sqliteCounts(this.core),
    });
    const running = this.core.projection.runningRuns();
    for (const runId of running) this.core.engine.kick(runId);
    const runs = this.core.projection.listRuns();
    this.logger.log(
      `read model ready in ${Date.now() - started} ms${kept.state ? ` (kept at position ${kept.state.position}, then the events after it)` : ''}: ${runs.length} runs, ${runs.filter((r) => r.status === 'waiting').length} waiting for a human, ${running.length} resumed`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.core.close();
  }
}

/** SQLite mode: the log's commits and the anchor file's fsynced writes, for /metrics. */
function sqliteCounts(core: ParleyCore): { commits?: () => number; anchorWrites?: () => number } {
  const { store } = core;
  const { anchors } = core.signer;
  return {
    commits: store instanceof SqliteEventStore ? () => store.commits() : undefined,
    anchorWrites: anchors instanceof FileAnchorLog ? () => anchors.writes() : undefined,
  };
}
