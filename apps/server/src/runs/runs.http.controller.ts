import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  CancelBody,
  HandoffBody,
  ListRunsQuery,
  MessageBody,
  NotFoundError,
  RetryBody,
  StartRunBody,
} from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { RunEngine, runView } from '@parley/engine';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import type { Human } from '../auth/identity';
import { EVENT_STORE } from '../core/tokens';
import { parseBody } from '../http/parse';
import { RunsProjection } from '../projections/runs.projection';
import {
  CancelRunCommand,
  OverrideHandoffCommand,
  PostHumanMessageCommand,
  RetryRunCommand,
} from './commands/run-commands';
import { StartRunCommand } from './commands/start-run.command';
import { CommandRouter } from '../cluster/command-router';

@ApiTags('runs')
@ApiBearerAuth()
@Controller('api/runs')
export class RunsHttpController {
  constructor(
    @Inject(CommandRouter) private readonly commands: CommandRouter,
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Post()
  @RequiresRole('participant')
  @ApiOperation({ summary: 'Start a run of a workflow: {workflow, input, idempotencyKey?} → 201 {runId}' })
  async start(
    @Body() body: unknown,
    @CurrentHuman() human: Human,
    @Res({ passthrough: true }) res: Response,
  ) {
    const parsed = parseBody(StartRunBody, body);
    const { runId, created } = await this.commands.execute(new StartRunCommand({ body: parsed }, human));
    res.status(created ? 201 : 200);
    return { runId };
  }

  @Get()
  @RequiresRole('viewer')
  @ApiOperation({ summary: 'List runs (filter by status, workflow)' })
  list(@Query() query: unknown) {
    const filter = parseBody(ListRunsQuery, query, 'REQUEST.INVALID_QUERY');
    return { runs: this.projection.listRuns(filter) };
  }

  @Get(':runId')
  @RequiresRole('viewer')
  @ApiOperation({ summary: 'A run: status, transcript, pending human requests, output' })
  async get(@Param('runId') runId: string) {
    const state = await this.engine.state(runId, { forReading: true });
    if (!state) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
    return runView(state);
  }

  @Get(':runId/events')
  @RequiresRole('viewer')
  @ApiOperation({ summary: "The run's events (JSON, or NDJSON with Accept: application/x-ndjson)" })
  async events(@Param('runId') runId: string, @Req() req: Request, @Res() res: Response) {
    if (!(await this.store.head(runId))) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
    if ((req.headers.accept ?? '').includes('application/x-ndjson')) {
      res.setHeader('Content-Type', 'application/x-ndjson');
      for await (const event of this.store.stream(runId)) res.write(`${JSON.stringify(event)}\n`);
      res.end();
      return;
    }
    res.json({ events: await this.store.read(runId) });
  }

  @Post(':runId/cancel')
  @HttpCode(200)
  @RequiresRole('participant')
  async cancel(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    const parsed = parseBody(CancelBody, body);
    await this.commands.execute(new CancelRunCommand({ ...parsed, runId }, human));
    return runView((await this.engine.state(runId, { forReading: true }))!);
  }

  @Post(':runId/retry')
  @HttpCode(200)
  @RequiresRole('participant')
  @ApiOperation({
    summary:
      'Continue a failed run from its failed step: {reason?} → the run (running again); 409 RUN.NOT_FAILED, 403 RUN.FORBIDDEN',
  })
  async retry(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    await this.commands.execute(new RetryRunCommand({ ...parseBody(RetryBody, body), runId }, human));
    return runView((await this.engine.state(runId))!);
  }

  @Post(':runId/messages')
  @HttpCode(201)
  @RequiresRole('participant')
  @ApiOperation({ summary: 'A human speaks in a run (group chat): the next speaker sees it' })
  async message(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    return this.commands.execute(
      new PostHumanMessageCommand({ ...parseBody(MessageBody, body), runId }, human),
    );
  }

  @Post(':runId/handoff')
  @HttpCode(201)
  @RequiresRole('participant')
  @ApiOperation({ summary: 'Re-route a handoff run to another agent: {to, reason}' })
  @Header('Cache-Control', 'no-store')
  async handoff(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    return this.commands.execute(
      new OverrideHandoffCommand({ ...parseBody(HandoffBody, body), runId }, human),
    );
  }
}
