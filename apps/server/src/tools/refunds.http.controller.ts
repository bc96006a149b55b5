import { Controller, Get, Inject, Query } from '@nestjs/common';
import type { Refunds } from '@parley/refunds';
import { RequiresRole } from '../auth/auth.guard';
import { REFUNDS } from '../core/tokens';

/** The refunds ledger: what the `process_refund` tool really did (the shared service's, when configured). */
@Controller('api/refunds')
export class RefundsHttpController {
  constructor(@Inject(REFUNDS) private readonly refunds: Refunds) {}

  @Get()
  @RequiresRole('viewer')
  async list(@Query('runId') runId?: string) {
    return { refunds: await this.refunds.list(runId) };
  }
}
