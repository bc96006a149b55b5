import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ROUTES } from '@parley/contracts';
import { RequiresRole } from '../auth/auth.guard';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { parseBody } from '../http/parse';

const ClusterQuery = ROUTES.cluster.query;

@Controller('api/cluster')
export class ClusterHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get()
  @RequiresRole('viewer')
  status(@Query() query: unknown) {
    const { runId } = parseBody(ClusterQuery, query, 'REQUEST.INVALID_QUERY');
    const cluster = this.core.cluster;
    const run = runId
      ? {
          runId,
          ownedHere: this.core.ownership.owns(runId),
          ...(cluster ? { partition: cluster.partitionOf(runId) } : {}),
        }
      : undefined;
    if (!cluster) return { mode: 'local', instanceId: this.core.config.instanceId, ...(run ? { run } : {}) };
    return {
      mode: 'kafka',
      ...cluster.status(),
      driving: this.core.engine.drivingRuns().length,
      ...(run ? { run } : {}),
    };
  }
}
