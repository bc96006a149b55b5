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
import type { Request, Response } from 'express';
import { ListRunsQuery, NotFoundError, REST_BODIES } from '@parley/contracts';
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
  async start(
    @Body() body: unknown,
    @CurrentHuman() human: Human,
    @Res({ passthrough: true }) res: Response,
  ) {
    const parsed = parseBody(REST_BODIES['run.start'], body);
    const { runId, created } = await this.commands.execute(new StartRunCommand({ body: parsed }, human));
    res.status(created ? 201 : 200);
    return { runId, created };
  }

  @Get()
  @RequiresRole('viewer')
  list(@Query() query: unknown) {
    return this.projection.pageRuns(parseBody(ListRunsQuery, query, 'REQUEST.INVALID_QUERY'));
  }

  @Get(':runId')
  @RequiresRole('viewer')
  async get(@Param('runId') runId: string) {
    const state = await this.engine.state(runId, { forReading: true });
    if (!state) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
    return runView(state);
  }

  @Get(':runId/events')
  @RequiresRole('viewer')
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
    const parsed = parseBody(REST_BODIES['run.cancel'], body);
    await this.commands.execute(new CancelRunCommand({ ...parsed, runId }, human));
    return runView((await this.engine.state(runId, { forReading: true }))!);
  }

  @Post(':runId/retry')
  @HttpCode(200)
  @RequiresRole('participant')
  async retry(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    await this.commands.execute(
      new RetryRunCommand({ ...parseBody(REST_BODIES['run.retry'], body), runId }, human),
    );
    return runView((await this.engine.state(runId))!);
  }

  @Post(':runId/messages')
  @HttpCode(201)
  @RequiresRole('participant')
  async message(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    return this.commands.execute(
      new PostHumanMessageCommand({ ...parseBody(REST_BODIES['run.message'], body), runId }, human),
    );
  }

  @Post(':runId/handoff')
  @HttpCode(201)
  @RequiresRole('participant')
  @Header('Cache-Control', 'no-store')
  async handoff(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    return this.commands.execute(
      new OverrideHandoffCommand({ ...parseBody(REST_BODIES['run.handoff'], body), runId }, human),
    );
  }
}
