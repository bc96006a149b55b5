import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { PARLEY_CORE } from '../core/core.module';
import type { ParleyCore } from '../core/core';

@ApiTags('health')
@Controller('health')
export class HealthHttpController {
  constructor(@Inject(PARLEY_CORE) private readonly core: ParleyCore) {}

  @Get()
  async health() {
    return {
      status: 'ok',
      eventLog: this.core.config.eventLog,
      instance: this.core.config.instanceId,
      model: this.core.offline ? 'offline' : 'provider',
      workflows: this.core.workflows.list().length,
      lastPosition: await this.core.store.lastPosition(),
      uptimeSeconds: Math.round(process.uptime()),
    };
  }
}
