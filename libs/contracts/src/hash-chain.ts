import { createHash } from 'node:crypto';
import { canonicalJson, type CanonicalMemo } from './canonical-json';
import type { EventEnvelope } from './envelope';

/** prevHash of the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

/** SHA-256 over the canonical JSON of the event without its `hash` member. */
export function hashEvent(
  event: Omit<EventEnvelope, 'hash'> & { hash?: string },
  known?: CanonicalMemo,
): string {
  const { hash: _ignored, ...rest } = event;
  return createHash('sha256').update(canonicalJson(rest, known)).digest('hex');
}

export function sealEvent(event: Omit<EventEnvelope, 'hash'>): EventEnvelope {
  return { ...event, hash: hashEvent(event) };
}

export type ChainBreak = 'edited' | 'missing' | 'reordered' | 'unlinked' | 'wrong-run';

export type VerifyResult =
  | { ok: true; events: number; head: string }
  | { ok: false; events: number; seq: number; reason: ChainBreak; message: string };

/**
 * Incremental hash-chain verifier: feed events in stream order, in constant memory.
 * It keeps one event of look-ahead so that two swapped events are told apart from a missing one.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private count = 0;
  private runId: string | undefined;
  private pending: EventEnvelope | undefined;
  private failure: VerifyResult | undefined;

  /** `known`: canonical texts of objects the events share (see `CanonicalMemo`). */
  constructor(private readonly known?: CanonicalMemo) {}

  push(event: EventEnvelope): void {
    if (this.failure) return;
    if (this.pending) this.check(this.pending, event);
    this.pending = event;
  }

  result(): VerifyResult {
    if (this.pending && !this.failure) this.check(this.pending, undefined);
    this.pending = undefined;
    return this.failure ?? { ok: true, events: this.count, head: this.prevHash };
  }

  private check(event: EventEnvelope, next: EventEnvelope | undefined): void {
    if (this.failure) return;
    this.runId ??= event.runId;
    const fail = (seq: number, reason: ChainBreak, message: string): void => {
      this.failure = { ok: false, events: this.count, seq, reason, message };
    };
    if (event.runId !== this.runId) {
      return fail(
        event.seq,
        'wrong-run',
        `event at seq ${event.seq} belongs to run ${event.runId}, not ${this.runId}`,
      );
    }
    if (event.seq !== this.expectedSeq) {
      const swapped = event.seq > this.expectedSeq && next?.seq === this.expectedSeq;
      if (event.seq < this.expectedSeq || swapped) {
        return fail(
          this.expectedSeq,
          'reordered',
          `expected seq ${this.expectedSeq}, found seq ${event.seq}: events are out of order`,
        );
      }
      return fail(
        this.expectedSeq,
        'missing',
        `seq ${this.expectedSeq} is missing (the next event found is seq ${event.seq})`,
      );
    }
    if (hashEvent(event, this.known) !== event.hash) {
      return fail(event.seq, 'edited', `event at seq ${event.seq} does not match its hash: it was edited`);
    }
    if (event.prevHash !== this.prevHash) {
      return fail(
        event.seq,
        'unlinked',
        `event at seq ${event.seq} does not link to the hash of seq ${event.seq - 1}`,
      );
    }
    this.prevHash = event.hash;
    this.expectedSeq += 1;
    this.count += 1;
  }
}

export function verifyChain(events: Iterable<EventEnvelope>): VerifyResult {
  const verifier = new ChainVerifier();
  for (const event of events) verifier.push(event);
  return verifier.result();
}
