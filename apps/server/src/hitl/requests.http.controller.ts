import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ListRequestsQuery, NotFoundError, REST_BODIES } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { RunEngine, editJsonSchema, requestView } from '@parley/engine';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import { hasRole, type Human } from '../auth/identity';
import { EVENT_STORE } from '../core/tokens';
import { parseBody } from '../http/parse';
import { RunsProjection } from '../projections/runs.projection';
import {
  ClaimRequestCommand,
  DecideRequestCommand,
  ReleaseRequestCommand,
} from './commands/request-commands';
import { runOfRequest } from './commands/request-commands.handlers';
import { CommandRouter } from '../cluster/command-router';
import type { ParleyCore } from '../core/core';
import { PARLEY_CORE } from '../core/core.module';

@Controller('api/requests')
export class RequestsHttpController {
  constructor(
    @Inject(CommandRouter) private readonly commands: CommandRouter,
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  @Get()
  @RequiresRole('viewer')
  list(@Query() query: unknown, @CurrentHuman() human: Human) {
    const filter = parseBody(ListRequestsQuery, query, 'REQUEST.INVALID_QUERY');
    // with `role`, the requests open to that role; without, those the caller may act on
    const { role } = filter;
    const { lastKey: _lastKey, ...page } = this.projection.pageRequests(filter, {
      me: human.id,
      inScope: role ? (r) => r.roles.includes(role) : (r) => r.roles.some((x) => hasRole(human, x)),
    });
    return page;
  }

  @Get(':id')
  @RequiresRole('viewer')
  async get(@Param('id') id: string) {
    const runId = await runOfRequest(this.projection, this.store, id);
    const state = await this.engine.state(runId, { forReading: true });
    const request = state?.requests.find((r) => r.requestId === id);
    if (!state || !request) throw new NotFoundError('REQUEST.NOT_FOUND', `no request with id ${id}`);
    const editSchema =
      request.status === 'open' ? editJsonSchema(state, request, this.core.tools) : undefined;
    return { ...requestView(request), runId, ...(editSchema ? { editSchema } : {}) };
  }

  @Post(':id/decision')
  @HttpCode(200)
  @RequiresRole('viewer')
  async decide(@Param('id') id: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    const parsed = parseBody(REST_BODIES['request.decide'], body);
    const outcome = await this.commands.execute(
      new DecideRequestCommand({ ...parsed, requestId: id }, human),
    );
    return { ...outcome, requestId: id };
  }

  @Post(':id/claim')
  @HttpCode(200)
  @RequiresRole('viewer')
  async claim(@Param('id') id: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    parseBody(REST_BODIES['request.claim'], body);
    const claimed = await this.commands.execute(new ClaimRequestCommand({ requestId: id }, human));
    return { ...claimed, requestId: id };
  }

  @Post(':id/release')
  @HttpCode(200)
  @RequiresRole('viewer')
  async release(@Param('id') id: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    parseBody(REST_BODIES['request.release'], body);
    const released = await this.commands.execute(new ReleaseRequestCommand({ requestId: id }, human));
    return { ...released, requestId: id };
  }
}
