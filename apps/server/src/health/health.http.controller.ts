import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';
import { eventLogReachability } from './event-log-health';

@ApiTags('health')
@Controller('health')
export class HealthHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get()
  @ApiOperation({
    summary:
      '200 {status: "ok"}; 503 {status: "degraded"} while the event log is unreachable (checks.eventLog says since when and why)',
  })
  async health(@Res({ passthrough: true }) res: Response) {
    const eventLog = eventLogReachability(this.core.store);
    // Degraded = new work is refused (503 EVENT_LOG.UNAVAILABLE); reads from the local store still answer.
    if (!eventLog.reachable) res.status(503);
    return {
      status: eventLog.reachable ? 'ok' : 'degraded',
      eventLog: this.core.config.eventLog,
      checks: {
        eventLog,
        // Kafka mode: while the owners' group rebalances (after an outage too), commands wait for it.
        ...(this.core.cluster ? { ownership: ownershipOf(this.core.cluster.status()) } : {}),
      },
      instance: this.core.config.instanceId,
      model: this.core.offline ? 'offline' : 'provider',
      workflows: this.core.workflows.list().length,
      lastPosition: await this.core.store.lastPosition(),
      uptimeSeconds: Math.round(process.uptime()),
      // bytes, from process.memoryUsage(): what the soak test (test/load) samples over time
      memory: memory(),
    };
  }
}

function memory(): { rss: number; heapUsed: number; heapTotal: number; external: number } {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

function ownershipOf(status: { stable: boolean; owned: number[]; partitions: number }): {
  stable: boolean;
  owned: number;
  partitions: number;
} {
  return { stable: status.stable, owned: status.owned.length, partitions: status.partitions };
}
