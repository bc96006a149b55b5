import { randomUUID } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  ConflictError,
  ExportManifest,
  ExportVerifier,
  type ExportVerdict,
  type SignedHead,
  ValidationError,
  storedEventProblem,
  upcast,
  type CommandResult,
  type EventData,
  type EventEnvelope,
} from '@parley/contracts';
import { SqliteEventStore, type EventStore } from '@parley/event-store';
import { RunEngine, actorOf, assertMay, foldRun, forkStream, postMessage } from '@parley/engine';
import { acting } from '../../auth/acting';
import { EVENT_STORE } from '../../core/tokens';
import { PARLEY_CORE } from '../../core/core.module';
import type { ParleyCore } from '../../core/core';
import { ForkRunCommand, ImportLogCommand } from './audit-commands';
import { ImportSpool, linesOf } from '../import-spool';

@CommandHandler(ForkRunCommand)
export class ForkRunHandler implements ICommandHandler<ForkRunCommand> {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(RunEngine) private readonly engine: RunEngine,
  ) {}

  /**
   * The fork's stream begins with copies of the original's first `atSeq` events, re-chained under
   * the new run id (`forkStream`); its `run.started` names the original and the hash of event `atSeq`
   * there, who forked and why. Everything is checked before anything is written: the permission, the
   * prefix's chain, the correction message; a refused fork creates nothing. The engine then checks
   * every gate of the prefix's unresolved calls again before any effect.
   */
  async execute(c: ForkRunCommand): Promise<CommandResult<'run.fork'>> {
    const { runId: sourceRunId, atSeq, note, message: correction, newRunId } = c.input;
    let original = await this.prefix(sourceRunId, atSeq);
    if (original.length < atSeq) {
      // Routed to the fork's owner, which may not have read the original's latest events yet (Kafka).
      await this.store.waitForCatchUp();
      original = await this.prefix(sourceRunId, atSeq);
    }
    const who = acting(c.by);
    // Who may fork is the original's rule (`permissions.fork`, default approvers), checked first.
    const source = original.length ? foldRun(original.map(upcast)) : undefined;
    const role = source ? assertMay(source, who, 'fork') : 'unknown';
    const runId = newRunId ?? randomUUID();
    const copied = forkStream({
      prefix: original,
      sourceRunId,
      atSeq,
      runId,
      by: actorOf(who, role),
      note,
      newId: randomUUID,
    });
    // A correction message is decided on the fork's state before the fork exists: if it is refused
    // (an agent's token, a run that has ended), nothing is created.
    const message = correction ? postMessage(foldRun(copied.map(upcast))!, who, correction) : undefined;
    await this.store.importStream(runId, copied);
    if (message)
      await this.engine.write(runId, () => ({ events: message, result: undefined }), { drive: true });
    else this.engine.kick(runId);
    const forkOf = (copied[0].data as EventData<'run.started'>).forkOf;
    return { runId, forkOf, note };
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
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {}

  /**
   * Verify the whole file first: signed by a trusted key (this server's, or PARLEY_TRUSTED_KEYS),
   * every run's chain through the heads its server signed, the chains and the manifest, then every
   * event as an append; import nothing unless all of it holds.
   */
  async execute(c: ImportLogCommand) {
    const spool = new ImportSpool(this.core.config.dataDir);
    try {
      return await this.importSpooled(c, spool);
    } finally {
      spool.remove();
    }
  }

  private async importSpooled(c: ImportLogCommand, spool: ImportSpool) {
    const trustedKeys = [this.core.signingKey.publicKey, ...this.core.config.trustedKeys];
    const verifier = new ExportVerifier({ trustedKeys });
    const lastOf = new Map<string, { seq: number; hash: string }>();
    let line = 0;
    let exportedAt: string | undefined;
    let manifestLine = '';
    let firstProblem: { line: number; problem: string } | undefined;
    // one pass over the body, line by line: verified as it streams, spooled to disk, never held in memory
    for await (const text of linesOf(c.body)) {
      verifier.push(text);
      line += 1;
      if (line === 1) {
        exportedAt = manifestTime(text);
        manifestLine = text;
      }
      if (line === 1 || !text.trim()) continue;
      let event: EventEnvelope;
      try {
        event = JSON.parse(text) as EventEnvelope;
      } catch {
        continue; // reported by the verifier
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event)) continue; // the verifier says so
      // an import is an append: each event must be one this server would have accepted
      if (!firstProblem) {
        const problem = eventProblem(event);
        if (problem) firstProblem = { line, problem };
      }
      if (typeof event.runId !== 'string') continue; // the verifier says so
      spool.add(event.runId, text);
      lastOf.set(event.runId, { seq: event.seq, hash: event.hash });
    }
    const verdict = verifier.result();
    refuseUnsigned(verdict);
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
    // the file verifies (its chains are whole): now every event must be one an append would accept
    if (firstProblem)
      throw new ValidationError(
        'IMPORT.INVALID_EVENT',
        `line ${firstProblem.line}: ${firstProblem.problem}; nothing was imported`,
        undefined,
        { line: firstProblem.line },
      );
    const existing: string[] = [];
    for (const runId of spool.runIds()) if (await this.store.head(runId)) existing.push(runId);
    if (existing.length)
      throw new ConflictError(
        'IMPORT.RUN_EXISTS',
        `these runs already exist here; nothing was imported: ${existing.join(', ')}`,
      );
    const who = acting(c.by);
    const by = { ...actorOf(who), role: who.roleFor(['admin']) ?? c.by.roles[0] };
    const manifest = verdict.runs;
    const signedBy = verdict.signature?.publicKey;
    const exportHeads = new Map(signedExportHeads(manifestLine));
    for (const runId of spool.runIds()) {
      // SQLite writes the run straight from the spool (constant memory); another store takes it whole
      if (this.store instanceof SqliteEventStore) this.store.importFrom(runId, () => spool.events(runId));
      else await this.store.importStream(runId, [...spool.events(runId)]);
      // The import is part of the run's own history: who brought it here, why, from which head.
      const last = lastOf.get(runId)!;
      await this.store.append(runId, last.seq, [
        {
          type: 'run.imported',
          actor: by,
          data: {
            by,
            note: c.note,
            from: {
              head: last.hash,
              count: last.seq,
              exportedAt,
              // the original signature: the exporting server's key and its signed head of the run
              signedBy,
              signedHead: exportHeads.get(runId),
            },
          },
        },
      ]);
    }
    return { imported: manifest };
  }
}

/**
 * An import comes only from a server this one trusts: an unsigned file, one signed by a foreign key,
 * a signature that does not hold or a chain that leaves the heads its server signed (a history
 * recomputed with Parley's own library) is refused before anything else, naming the run and seq.
 */
function refuseUnsigned(verdict: ExportVerdict): void {
  const signature = verdict.signature;
  if (!signature) return; // no manifest at all: IMPORT.NOT_VERIFIED says so
  const details = { signature, forged: verdict.forged };
  if (signature.status === 'unsigned')
    throw new ValidationError(
      'IMPORT.UNSIGNED',
      `the export is not signed (${signature.message}); nothing was imported`,
      undefined,
      details,
    );
  if (signature.status === 'untrusted')
    throw new ValidationError(
      'IMPORT.UNTRUSTED_KEY',
      `${signature.message} (trust it with PARLEY_TRUSTED_KEYS); nothing was imported`,
      undefined,
      details,
    );
  if (signature.status === 'invalid')
    throw new ValidationError(
      'IMPORT.FORGED',
      `${signature.message}; nothing was imported`,
      undefined,
      details,
    );
  const forged = verdict.forged?.[0];
  if (forged)
    throw new ValidationError('IMPORT.FORGED', `${forged.message}; nothing was imported`, undefined, {
      ...details,
      runId: forged.runId,
      seq: forged.seq,
      firstDifferentSeq: forged.firstDifferentSeq,
    });
}

/** Each run's signed export head, from the manifest line (kept in `run.imported`). */
function signedExportHeads(manifestLine: string): Array<[string, SignedHead]> {
  try {
    const manifest = ExportManifest.parse(JSON.parse(manifestLine));
    return manifest.runs.flatMap((r) => {
      const head = r.signed?.at(-1);
      return head ? [[r.runId, head] as [string, SignedHead]] : [];
    });
  } catch {
    return [];
  }
}

/** `storedEventProblem`, with an event too deeply nested to check counted as a problem, not a crash. */
function eventProblem(event: unknown): string | undefined {
  try {
    return storedEventProblem(event);
  } catch (error) {
    if (error instanceof RangeError) return 'the event is nested too deeply to check';
    throw error;
  }
}

function manifestTime(line: string): string | undefined {
  try {
    const at = (JSON.parse(line) as { exportedAt?: unknown }).exportedAt;
    return typeof at === 'string' ? at : undefined;
  } catch {
    return undefined; // reported by the verifier
  }
}

export const AUDIT_COMMAND_HANDLERS = [ForkRunHandler, ImportLogHandler];
