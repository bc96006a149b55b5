import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RunEngine } from '@parley/engine';
import { RunsProjection } from '../../projections/runs.projection';
import { WorkflowCatalog } from '../../workflows/workflow-catalog';
import { StartRunCommand } from './start-run.command';

/** Starts a run; the same idempotency key from the same human returns the same run. */
@CommandHandler(StartRunCommand)
export class StartRunHandler implements ICommandHandler<StartRunCommand, { runId: string; created: boolean }> {
  /** Keys started here that the read model may not have applied yet. */
  private readonly pending = new Map<string, Promise<{ runId: string; created: boolean }>>();

  constructor(
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(WorkflowCatalog) private readonly workflows: WorkflowCatalog,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
  ) {}

  async execute({ body, by }: StartRunCommand): Promise<{ runId: string; created: boolean }> {
    const workflow = this.workflows.get(body.workflow);
    if (!body.idempotencyKey) return this.start(body, by, workflow);
    const key = `${by.id}\u0000${body.idempotencyKey}`;
    const known = this.projection.runForIdempotencyKey(key);
    if (known) {
      this.pending.delete(key);
      return { runId: known, created: false };
    }
    const inFlight = this.pending.get(key);
    if (inFlight) return { ...(await inFlight), created: false };
    const promise = this.start(body, by, workflow);
    this.pending.set(key, promise);
    promise.catch(() => this.pending.delete(key));
    return promise;
  }

  private async start(body: StartRunCommand['body'], by: StartRunCommand['by'], workflow: ReturnType<WorkflowCatalog['get']>) {
    const state = await this.engine.start({
      workflow,
      input: body.input,
      requestedBy: { kind: 'human', id: by.id },
      idempotencyKey: body.idempotencyKey,
    });
    return { runId: state.runId, created: true };
  }
}
