import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequiresRole } from '../auth/auth.guard';
import { RefundLedger } from './refund-ledger';

/** The refunds ledger: what the `process_refund` tool really did. */
@ApiTags('tools')
@ApiBearerAuth()
@Controller('api/refunds')
export class RefundsHttpController {
  constructor(@Inject(RefundLedger) private readonly ledger: RefundLedger) {}

  @Get()
  @RequiresRole('viewer')
  list(@Query('runId') runId?: string) {
    return { refunds: this.ledger.list(runId) };
  }
}
