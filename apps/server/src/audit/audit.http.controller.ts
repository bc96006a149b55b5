import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { Transform, type Readable } from 'node:stream';
import type { Request, Response } from 'express';
import {
  ChainVerifier,
  EVENT_REGISTRY,
  ExportRangeQuery as RangeQuery,
  ImportQuery,
  NotFoundError,
  StateQuery,
  TooLargeError,
  ValidationError,
  canonicalJson,
  signManifest,
  upcast,
  type ExportManifest,
  REST_BODIES,
} from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { evolve, runView, type RunState } from '@parley/engine';
import { CurrentHuman, RequiresRole } from '../auth/auth.guard';
import type { Human } from '../auth/identity';
import { EVENT_STORE } from '../core/tokens';
import { parseBody } from '../http/parse';
import { RunsProjection } from '../projections/runs.projection';
import { auditTrail } from './audit-trail';
import { runActions } from './run-actions';
import { ForkRunCommand, ImportLogCommand } from './commands/audit-commands';
import { CommandRouter } from '../cluster/command-router';
import type { ParleyCore } from '../core/core';
import { PARLEY_CORE } from '../core/core.module';

@Controller('api')
export class AuditHttpController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(CommandRouter) private readonly commands: CommandRouter,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  @Get('runs/:runId/verify')
  @RequiresRole('viewer')
  async verify(@Param('runId') runId: string) {
    await this.mustExist(runId);
    const verifier = new ChainVerifier();
    for await (const event of this.store.stream(runId)) verifier.push(event);
    return verifier.result();
  }

  @Get('runs/:runId/state')
  @RequiresRole('viewer')
  async state(@Param('runId') runId: string, @Query() query: unknown, @Res() res: Response) {
    const { at } = parseBody(StateQuery, query, 'REQUEST.INVALID_QUERY');
    const head = await this.mustExist(runId);
    if (at !== undefined && at > head)
      throw new ValidationError(
        'REPLAY.BEYOND_HEAD',
        `the run has ${head} events; at must be at most ${head}`,
        'at',
      );
    let state: RunState | undefined;
    for await (const event of this.store.stream(runId)) {
      if (at !== undefined && event.seq > at) break;
      state = evolve(state, upcast(event));
    }
    if (!state) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`); // gone meanwhile
    // Canonical JSON: the same log always gives byte-identical state.
    res.type('application/json').send(canonicalJson({ at: state.seq, state: runView(state) }));
  }

  @Get('runs/:runId/audit')
  @RequiresRole('viewer')
  async audit(@Param('runId') runId: string) {
    await this.mustExist(runId);
    const events = (await this.store.read(runId)).map(upcast);
    return { runId, requests: auditTrail(events), actions: runActions(events) };
  }

  @Get('runs/:runId/export')
  @RequiresRole('viewer')
  async exportRun(@Param('runId') runId: string, @Res() res: Response) {
    await this.mustExist(runId);
    await this.writeExport(res, [runId], `parley-${runId}.ndjson`);
  }

  @Get('export')
  @RequiresRole('viewer')
  async exportRange(@Query() query: unknown, @Res() res: Response) {
    const { from, to } = parseBody(RangeQuery, query, 'REQUEST.INVALID_QUERY');
    const runs = this.projection
      .listRuns()
      .filter((r) => (!from || r.createdAt >= from) && (!to || r.createdAt <= to))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((r) => r.runId);
    await this.writeExport(res, runs, 'parley-export.ndjson');
  }

  @Post('import')
  @HttpCode(201)
  @RequiresRole('admin')
  async import(@Req() req: Request, @Query() query: unknown, @CurrentHuman() human: Human) {
    const { note } = parseBody(ImportQuery, query, 'REQUEST.INVALID_QUERY');
    return this.commands.execute(
      new ImportLogCommand(limited(req, this.core.config.importMaxBytes), human, note),
    );
  }

  @Post('runs/:runId/fork')
  @HttpCode(201)
  @RequiresRole('participant')
  async fork(@Param('runId') runId: string, @Body() body: unknown, @CurrentHuman() human: Human) {
    const parsed = parseBody(REST_BODIES['run.fork'], body);
    return this.commands.execute(new ForkRunCommand({ ...parsed, runId }, human));
  }

  private async mustExist(runId: string): Promise<number> {
    const head = await this.store.head(runId);
    if (!head) throw new NotFoundError('RUN.NOT_FOUND', `no run with id ${runId}`);
    return head.seq;
  }

  private async writeExport(res: Response, runIds: string[], filename: string): Promise<void> {
    const runs: ExportManifest['runs'] = [];
    for (const runId of runIds) {
      const head = await this.store.head(runId);
      if (!head) continue;
      // the heads this server signed when the run waited or ended, and its head now, signed too
      const signed = (await this.core.signer.signedHeads(runId)).filter((h) => h.seq <= head.seq);
      signed.push(this.core.signer.signExportHead(runId, head.seq, head.hash));
      runs.push({ runId, count: head.seq, head: head.hash, signed });
    }
    const unsigned: Omit<ExportManifest, 'signature'> = {
      kind: 'parley.export',
      version: 1,
      exportedAt: new Date().toISOString(),
      runs,
      schemaVersions: Object.fromEntries(
        Object.entries(EVENT_REGISTRY).map(([type, d]) => [type, d.version]),
      ),
    };
    // The server's signature over the counts and head hashes: a recomputed chain cannot carry it.
    const manifest: ExportManifest = signManifest(unsigned, this.core.signingKey.privateKey);
    res.setHeader('Content-Type', 'application/x-ndjson');
    res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
    res.write(`${JSON.stringify(manifest)}\n`);
    for (const run of runs) {
      for await (const event of this.store.stream(run.runId)) {
        if (event.seq > run.count) break;
        if (!res.write(`${JSON.stringify(event)}\n`)) await new Promise((r) => res.once('drain', r));
      }
    }
    res.end();
  }
}

/** The body as it arrives, cut off with 413 `REQUEST.TOO_LARGE` past `max` bytes (nothing is imported then). */
function limited(body: Readable, max: number): Readable {
  let seen = 0;
  const gate = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max)
        done(
          new TooLargeError(
            'REQUEST.TOO_LARGE',
            `the import is over the limit of ${max} bytes (PARLEY_IMPORT_MAX_BYTES); nothing was imported`,
            {
              limit: max,
            },
          ),
        );
      else done(null, chunk);
    },
  });
  body.on('error', (error) => gate.destroy(error));
  return body.pipe(gate);
}
