import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ConcurrencyError } from '@parley/contracts';
import { RunEngine } from '@parley/engine';
import { PARLEY_CORE } from '../../core/core.module';
import type { ParleyCore } from '../../core/core';
import { RunsProjection } from '../../projections/runs.projection';
import { WorkflowCatalog } from '../../workflows/workflow-catalog';
import { StartRunCommand } from './start-run.command';

/** Starts a run; the same idempotency key from the same human returns the same run. */
@CommandHandler(StartRunCommand)
export class StartRunHandler implements ICommandHandler<
  StartRunCommand,
  { runId: string; created: boolean }
> {
  /** Keys started here that the read model may not have applied yet. */
  private readonly pending = new Map<string, Promise<{ runId: string; created: boolean }>>();

  constructor(
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(WorkflowCatalog) private readonly workflows: WorkflowCatalog,
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  async execute({
    input: { body, runId },
    by,
  }: StartRunCommand): Promise<{ runId: string; created: boolean }> {
    const workflow = this.workflows.get(body.workflow);
    if (!body.idempotencyKey) return this.start(body, by, workflow, runId);
    const key = `${by.id}\u0000${body.idempotencyKey}`;
    const known = this.projection.runForIdempotencyKey(key);
    if (known) {
      this.pending.delete(key);
      return { runId: known, created: false };
    }
    const inFlight = this.pending.get(key);
    if (inFlight) return { ...(await inFlight), created: false };
    const promise = this.start(body, by, workflow, runId);
    this.pending.set(key, promise);
    const forget = (): void => {
      if (this.pending.get(key) === promise) this.pending.delete(key);
    };
    // kept until the read model knows the key (from then on `known` answers), and no longer: a key
    // that is never sent again must not stay here for the life of the process
    promise.then(() => this.projection.caughtUpWithStore()).then(forget, forget);
    return promise;
  }

  /** Starts with an idempotency key that the read model has not applied yet (for tests). */
  get pendingKeys(): number {
    return this.pending.size;
  }

  private async start(
    body: StartRunCommand['input']['body'],
    by: StartRunCommand['by'],
    workflow: ReturnType<WorkflowCatalog['get']>,
    runId?: string,
  ) {
    try {
      const state = await this.engine.start({
        runId,
        workflow,
        input: body.input,
        requestedBy: { kind: by.kind ?? 'human', id: by.id },
        idempotencyKey: body.idempotencyKey,
        // tracing on: the run's trace context goes into its log (under the request's span, if any)
        trace: this.core.observability.tracing?.newRunContext(runId),
      });
      return { runId: state.runId, created: true };
    } catch (error) {
      // The run id derived from this human's idempotency key exists already (the read model had not
      // applied it yet, or the first request went through another instance): the same run again.
      if (error instanceof ConcurrencyError && runId && body.idempotencyKey) {
        const existing = await this.engine.state(runId);
        if (existing?.requestedBy === by.id) return { runId, created: false }; // the id is derived from (human, key)
      }
      throw error;
    }
  }
}
