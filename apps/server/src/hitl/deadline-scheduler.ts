import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { Ownership } from '../cluster/ownership';
import type { ParleyCore } from '../core/core';
import { PARLEY_CORE } from '../core/core.module';
import { RunsProjection, type RequestSummary } from '../projections/runs.projection';
import { ExpireRequestCommand } from './commands/request-commands';
import type { Human } from '../auth/identity';

/** Who expires requests: Parley's own scheduler (the command records `system` as the actor). */
const SCHEDULER: Human = { id: 'parley', roles: ['admin'], kind: 'service' };

/**
 * Deadlines come from the log, not from memory: open requests with a deadline are in the read
 * model (rebuilt from the log at start-up); one timer waits for the earliest. An expiry goes
 * through the same command path as a human decision. With several instances, each expires the
 * requests of the runs it owns; when it gains runs, it looks at their open requests again.
 */
@Injectable()
export class DeadlineScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Deadlines');
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private stopGained?: () => void;
  private readonly open = new Map<string, RequestSummary>();
  private readonly ownership: Ownership;

  constructor(
    @Inject(RunsProjection) private readonly projection: RunsProjection,
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(PARLEY_CORE) core: ParleyCore,
  ) {
    this.ownership = core.ownership;
  }

  onApplicationBootstrap(): void {
    this.rescan();
    this.stopGained = this.ownership.onGained(() => this.rescan());
    this.unsubscribe = this.projection.onChange((change) => {
      if (change.type !== 'request') return;
      const r = change.request;
      if (r.status === 'open' && r.deadline) this.open.set(r.id, r);
      else this.open.delete(r.id);
      this.schedule();
    });
    this.schedule();
  }

  /** Every open request with a deadline, from the read model (at start-up, and when runs were gained). */
  private rescan(): void {
    for (const r of this.projection.listRequests({ status: 'open' })) if (r.deadline) this.open.set(r.id, r);
    this.schedule();
  }

  onApplicationShutdown(): void {
    this.stopGained?.();
    this.unsubscribe?.();
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    let earliest: RequestSummary | undefined;
    for (const r of this.open.values()) if (!earliest || r.deadline! < earliest.deadline!) earliest = r;
    if (!earliest) return;
    const delay = Math.max(0, Math.min(Date.parse(earliest.deadline!) - Date.now(), 2 ** 31 - 1));
    this.timer = setTimeout(() => void this.fire(), delay);
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    const now = Date.now();
    const due = [...this.open.values()].filter((r) => Date.parse(r.deadline!) <= now);
    for (const r of due) {
      this.open.delete(r.id);
      // Another instance owns the run: its scheduler expires it (this one looks again if it gains the run).
      if (!this.ownership.owns(r.runId)) continue;
      try {
        await this.commands.execute(new ExpireRequestCommand({ runId: r.runId, requestId: r.id }, SCHEDULER));
      } catch (error) {
        this.logger.error(`expiring request ${r.id}: ${(error as Error).message}`);
      }
    }
    this.schedule();
  }
}
