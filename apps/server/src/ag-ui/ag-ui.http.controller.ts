import { Body, Controller, Inject, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import type { Human } from '../auth/identity';
import { AgUiThreads } from './ag-ui-threads';

@Controller('api/ag-ui')
export class AgUiHttpController {
  constructor(@Inject(AgUiThreads) private readonly threads: AgUiThreads) {}

  @Post(':workflow')
  @RequiresRole('viewer')
  async run(
    @Param('workflow') workflow: string,
    @Body() body: unknown,
    @CurrentHuman() human: Human,
    @Res() res: Response,
  ): Promise<void> {
    await this.threads.run(workflow, body, human, res);
  }
}
