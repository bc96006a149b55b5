import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  ConflictError,
  ExportVerifier,
  GENESIS_HASH,
  ValidationError,
  sealEvent,
  verifyChain,
  type EventEnvelope,
} from '@parley/contracts';
import type { EventStore, KafkaEventStore } from '@parley/event-store';
import { RunEngine, postMessage } from '@parley/engine';
import { acting } from '../../auth/acting';
import { EVENT_STORE } from '../../core/tokens';
import { ForkRunCommand, ImportLogCommand } from './audit-commands';

@CommandHandler(ForkRunCommand)
export class ForkRunHandler implements ICommandHandler<
  ForkRunCommand,
  { runId: string; forkOf: { runId: string; atSeq: number; head: string } }
> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(RunEngine) private readonly engine: RunEngine,
  ) {}

  /**
   * The fork's stream begins with copies of the original's first `atSeq` events, re-chained under
   * the new run id; its `run.started` names the original and the hash of event `atSeq` there, so
   * the prefix can be checked against the original at any time.
   */
  async execute(c: ForkRunCommand) {
    let original = await this.prefix(c.runId, c.atSeq);
    if (original.length < c.atSeq && this.store.kind === 'kafka') {
      // Routed to the fork's owner, which may not have read the original's latest events yet.
      await (this.store as KafkaEventStore).waitForCatchUp();
      original = await this.prefix(c.runId, c.atSeq);
    }
    if (original.length === 0)
      throw new ValidationError('RUN.NOT_FOUND', `no run with id ${c.runId}`, 'runId');
    if (original.length < c.atSeq)
      throw new ValidationError(
        'FORK.BEYOND_HEAD',
        `run ${c.runId} has only ${original.length} events`,
        'atSeq',
      );
    const verdict = verifyChain(original);
    if (!verdict.ok)
      throw new ConflictError('FORK.SOURCE_TAMPERED', `the original run does not verify: ${verdict.message}`);
    const forkOf = { runId: c.runId, atSeq: c.atSeq, head: verdict.head };
    const runId = c.newRunId ?? randomUUID();
    let prevHash = GENESIS_HASH;
    // Human requests get new ids in the fork: a request id names one request of one run.
    const requestIds = new Map<string, string>();
    const renamed = (data: unknown): unknown => {
      const requestId = (data as { requestId?: unknown } | null)?.requestId;
      if (typeof requestId !== 'string') return data;
      if (!requestIds.has(requestId)) requestIds.set(requestId, randomUUID());
      return { ...(data as object), requestId: requestIds.get(requestId) };
    };
    const copied = original.map((e) => {
      const { hash: _hash, ...rest } = e;
      const data =
        e.type === 'run.started'
          ? { ...(e.data as object), forkOf, idempotencyKey: undefined }
          : renamed(e.data);
      const sealed = sealEvent({
        ...rest,
        eventId: randomUUID(),
        runId,
        correlationId: runId,
        data,
        prevHash,
      });
      prevHash = sealed.hash;
      return sealed;
    });
    await this.store.importStream(runId, copied);
    if (c.message)
      await this.engine.write(
        runId,
        (state) => ({ events: postMessage(state!, acting(c.by), c.message!), result: undefined }),
        { drive: true },
      );
    else this.engine.kick(runId);
    return { runId, forkOf, note: c.note };
  }

  private async prefix(runId: string, atSeq: number): Promise<EventEnvelope[]> {
    const events: EventEnvelope[] = [];
    for await (const event of this.store.stream(runId)) {
      if (event.seq > atSeq) break;
      events.push(event);
    }
    return events;
  }
}

@CommandHandler(ImportLogCommand)
export class ImportLogHandler implements ICommandHandler<ImportLogCommand> {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  /** Verify the whole file first (chains, manifest); import nothing unless every run verifies. */
  async execute(c: ImportLogCommand) {
    const verifier = new ExportVerifier();
    const byRun = new Map<string, EventEnvelope[]>();
    let line = 0;
    for await (const text of createInterface({ input: c.body, crlfDelay: Infinity })) {
      verifier.push(text);
      line += 1;
      if (line === 1 || !text.trim()) continue;
      try {
        const event = JSON.parse(text) as EventEnvelope;
        if (!byRun.has(event.runId)) byRun.set(event.runId, []);
        byRun.get(event.runId)!.push(event);
      } catch {
        // reported by the verifier
      }
    }
    const verdict = verifier.result();
    if (!verdict.ok) {
      const bad = verdict.runs.find((r) => !r.ok);
      const why = bad && !bad.ok ? `run ${bad.runId}: ${bad.message}` : verdict.problems.join('; ');
      throw new ValidationError(
        'IMPORT.NOT_VERIFIED',
        `the file does not verify; nothing was imported: ${why}`,
        undefined,
        { verdict },
      );
    }
    const existing: string[] = [];
    for (const runId of byRun.keys()) if (await this.store.head(runId)) existing.push(runId);
    if (existing.length)
      throw new ConflictError(
        'IMPORT.RUN_EXISTS',
        `these runs already exist here; nothing was imported: ${existing.join(', ')}`,
      );
    for (const [runId, events] of byRun) await this.store.importStream(runId, events);
    return { imported: verdict.runs };
  }
}

export const AUDIT_COMMAND_HANDLERS = [ForkRunHandler, ImportLogHandler];
