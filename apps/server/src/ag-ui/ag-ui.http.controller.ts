import { Body, Controller, Inject, Param, Post, Res } from '@nestjs/common';
import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import type { Response } from 'express';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import type { Human } from '../auth/identity';
import { AgUiThreads } from './ag-ui-threads';

@ApiTags('ag-ui')
@ApiBearerAuth()
@Controller('api/ag-ui')
export class AgUiHttpController {
  constructor(@Inject(AgUiThreads) private readonly threads: AgUiThreads) {}

  @Post(':workflow')
  @RequiresRole('viewer')
  @ApiOperation({
    summary:
      'AG-UI over SSE (docs/AG-UI.md): a RunAgentInput; a thread is a run of the workflow; resume[] decides its interrupts',
  })
  @ApiBody({
    // @ag-ui/core's own schema of a RunAgentInput (its open JSON fields are `any` here)
    schema: z.toJSONSchema(RunAgentInputSchema, {
      target: 'openapi-3.0',
      io: 'input',
      unrepresentable: 'any',
    }) as SchemaObject,
  })
  @ApiProduces('text/event-stream')
  async run(
    @Param('workflow') workflow: string,
    @Body() body: unknown,
    @CurrentHuman() human: Human,
    @Res() res: Response,
  ): Promise<void> {
    await this.threads.run(workflow, body, human, res);
  }
}
