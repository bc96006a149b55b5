import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequiresRole } from '../auth/auth.guard';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { parseBody } from '../http/parse';

const ClusterQuery = z.strictObject({ runId: z.string().min(1).max(200).optional() });

@ApiTags('cluster')
@ApiBearerAuth()
@Controller('api/cluster')
export class ClusterHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get()
  @RequiresRole('viewer')
  @ApiOperation({
    summary: 'This instance: the partitions (runs) it owns; with ?runId=, whether it owns that run',
  })
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
