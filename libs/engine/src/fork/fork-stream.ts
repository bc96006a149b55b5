import type { Actor, EventEnvelope } from '@parley/contracts';
import {
  ConflictError,
  GENESIS_HASH,
  ValidationError,
  sealEvent,
  upcast,
  verifyChain,
} from '@parley/contracts';
import { foldRun } from '../run-state';

export interface ForkOptions {
  /** The first `atSeq` events of the original run, as stored. */
  prefix: EventEnvelope[];
  sourceRunId: string;
  atSeq: number;
  /** The fork's run id. */
  runId: string;
  /** Who forks, with the role they act under, and why. */
  by: Actor;
  note: string;
  newId: () => string;
}

/**
 * A fork's stream: the original's first `atSeq` events under a new run id, re-chained. Its
 * `run.started` names who forked, from which run and seq (with the hash of that event there, so the
 * prefix can be checked against the original at any time), the note, and every human who had asked
 * along the original's lineage: four-eyes holds against them and against the forker, who is the
 * fork's requester. Human requests get new ids (a request id names one request of one run). Pure.
 *
 * Nothing is trusted because it was in the prefix: the engine checks every gate again before any
 * effect (hitl/tool-gates.ts), so a call that the prefix leaves without a decision opens its gate.
 */
export function forkStream(o: ForkOptions): EventEnvelope[] {
  if (o.prefix.length === 0)
    throw new ValidationError('RUN.NOT_FOUND', `no run with id ${o.sourceRunId}`, 'runId');
  if (o.prefix.length < o.atSeq)
    throw new ValidationError(
      'FORK.BEYOND_HEAD',
      `run ${o.sourceRunId} has only ${o.prefix.length} events`,
      'atSeq',
    );
  const verdict = verifyChain(o.prefix);
  if (!verdict.ok)
    throw new ConflictError('FORK.SOURCE_TAMPERED', `the original run does not verify: ${verdict.message}`);
  const askers = foldRun(o.prefix.map(upcast))?.askers ?? [];
  const forkOf = {
    runId: o.sourceRunId,
    atSeq: o.atSeq,
    head: verdict.head,
    by: o.by,
    note: o.note,
    askers,
  };
  const requestIds = new Map<string, string>();
  const renamed = (data: unknown): unknown => {
    const requestId = (data as { requestId?: unknown } | null)?.requestId;
    if (typeof requestId !== 'string') return data;
    if (!requestIds.has(requestId)) requestIds.set(requestId, o.newId());
    return { ...(data as object), requestId: requestIds.get(requestId) };
  };
  let prevHash = GENESIS_HASH;
  return o.prefix.map((e) => {
    const { hash: _hash, ...rest } = e;
    const started = e.type === 'run.started';
    const data = started
      ? { ...(e.data as object), requestedBy: o.by.id, forkOf, idempotencyKey: undefined }
      : renamed(e.data);
    const sealed = sealEvent({
      ...rest,
      ...(started ? { actor: o.by } : {}),
      eventId: o.newId(),
      runId: o.runId,
      correlationId: o.runId,
      data,
      prevHash,
    });
    prevHash = sealed.hash;
    return sealed;
  });
}
