import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { IdentityService } from '../auth/identity';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';

@Controller('health')
export class HealthHttpController {
  constructor(
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
    @Inject(IdentityService) private readonly identity: IdentityService,
  ) {}

  @Get()
  async health(
    @Res({ passthrough: true }) res: Response,
    @Headers('authorization') authorization: string | undefined,
  ) {
    const eventLog = this.core.store.reachabilityStatus();
    // Degraded = new work is refused (503 EVENT_LOG.UNAVAILABLE); reads from the local store still answer.
    if (!eventLog.reachable) res.status(503);
    return {
      status: eventLog.reachable ? 'ok' : 'degraded',
      eventLog: this.core.config.eventLog,
      checks: {
        eventLog,
        // Kafka mode: while the owners' group rebalances (after an outage too), commands wait for it.
        ...(this.core.cluster ? { ownership: ownershipOf(this.core.cluster.status()) } : {}),
        // Runs whose log did not verify when loaded: never driven, every command on them refused.
        runIntegrity: integrityOf(this.core.engine.brokenRuns()),
        // The heads this instance owes the anchor stream (file or Kafka topic), and why they wait.
        signing: {
          ...this.core.signer.status(),
          anchors: { kind: this.core.signer.anchors.kind, location: this.core.signer.anchors.location },
        },
      },
      instance: this.core.config.instanceId,
      model: this.core.offline ? 'offline' : 'provider',
      workflows: this.core.workflows.list().length,
      lastPosition: await this.core.store.lastPosition(),
      uptimeSeconds: Math.round(process.uptime()),
      // bytes, from process.memoryUsage(): what the soak test (test/load) samples over time; for
      // callers with a token only (the route is public: load balancers probe it)
      ...(this.signedIn(authorization) ? { memory: memory() } : {}),
    };
  }

  private signedIn(authorization: string | undefined): boolean {
    if (!authorization) return false;
    try {
      this.identity.authenticate(authorization);
      return true;
    } catch {
      return false;
    }
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

function integrityOf(broken: Array<{ runId: string; seq: number; reason: string }>): {
  ok: boolean;
  brokenRuns: Array<{ runId: string; seq: number; reason: string }>;
} {
  return {
    ok: broken.length === 0,
    brokenRuns: broken.map(({ runId, seq, reason }) => ({ runId, seq, reason })),
  };
}
