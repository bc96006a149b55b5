import { z } from 'zod';
import type { EventEnvelope } from '../envelope';
import { ChainVerifier, type ChainBreak } from '../hash-chain';
import { jsonValueProblem } from '../json-value';
import {
  ManifestSignatureSchema,
  SignedHeadSchema,
  keyIdOf,
  manifestSignatureValid,
  parsePublicKey,
  verifySignedHead,
  type SignedHead,
} from './signature';

/** Deeper lines are refused: canonical JSON (the hash) recurses, and overflows at a few thousand levels. */
const MAX_IMPORTED_EVENT_DEPTH = 1000;

/**
 * The export format: NDJSON. Line 1 is the manifest; every other line is one event envelope exactly
 * as stored (so its hash still verifies), grouped by run, in seq order.
 */
export const ExportManifest = z.object({
  kind: z.literal('parley.export'),
  version: z.literal(1),
  exportedAt: z.string(),
  runs: z.array(
    z.object({
      runId: z.string().min(1),
      count: z.number().int().min(0),
      head: z.string(),
      /**
       * The run's heads the exporting server signed, in seq order: each time it waited for a human,
       * ended or was imported, and last its head at export time (`reason: "export"`).
       */
      signed: z.array(SignedHeadSchema).optional(),
    }),
  ),
  /** The writer's current schema version of every event type. Each event carries its own too. */
  schemaVersions: z.record(z.string(), z.number().int().positive()),
  /** The exporting server's signature over the rest of the manifest (its counts and head hashes). */
  signature: ManifestSignatureSchema.optional(),
});
export type ExportManifest = z.infer<typeof ExportManifest>;

export type RunVerdict =
  | { runId: string; ok: true; events: number; head: string }
  | {
      runId: string;
      ok: false;
      events: number;
      seq: number;
      reason: ChainBreak | 'malformed' | 'count' | 'head';
      message: string;
    };

/** Who signed the file, and whether it holds: `forged` says where the chain leaves the signed heads. */
export interface SignatureVerdict {
  status: 'valid' | 'unsigned' | 'invalid' | 'untrusted';
  keyId?: string;
  publicKey?: string;
  message: string;
}

/** A run whose chain verifies by itself but does not pass through a head its server signed. */
export interface ForgedRun {
  runId: string;
  /** The signed head the chain does not reach: at this seq the file's hash is another. */
  seq: number;
  /** The last signed head the chain does match (0: none); the forgery is in seqs after it. */
  lastSignedMatch: number;
  /** The first seq that may differ from what the server signed. */
  firstDifferentSeq: number;
  message: string;
}

export interface ExportVerdict {
  ok: boolean;
  runs: RunVerdict[];
  /** A problem with the file as a whole (no manifest, a line that is not JSON ...). */
  problems: string[];
  /** Only when keys to check against were given, or the manifest is signed. */
  signature?: SignatureVerdict;
  /** Runs whose recomputed chain is not the one that was signed (only with keys to check against). */
  forged?: ForgedRun[];
  /** `--expect-head SEQ:HASH`: whether the run's chain passes through it. */
  expectedHead?: { seq: number; hash: string; ok: boolean; message: string };
}

export interface ExportVerifyOptions {
  /** Public keys (`ed25519:...`) one of which must have signed the file; none: the signature is only reported. */
  trustedKeys?: string[];
  /** A head the (only) run's chain must pass through. */
  expectHead?: { seq: number; hash: string };
}

/**
 * Verify an export offline, in a streaming way: every run's hash chain and seq continuity, and the
 * manifest's count and head hash for each run. Feed lines in order; memory stays constant per run.
 */
export class ExportVerifier {
  private manifest: ExportManifest | undefined;
  private readonly verifiers = new Map<string, ChainVerifier>();
  private readonly broken = new Map<string, RunVerdict>();
  private readonly problems: string[] = [];
  private line = 0;
  /** The hash found in the file at each signed seq (and the expected head's), by run. */
  private readonly hashesAt = new Map<string, Map<number, string>>();
  private readonly watched = new Map<string, Set<number>>();
  private runOfExpected: string | undefined;

  constructor(private readonly options: ExportVerifyOptions = {}) {}

  push(text: string): void {
    this.line += 1;
    if (!text.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const runId = /"runId":"([^"]+)"/.exec(text)?.[1];
      const seq = Number(/"seq":(\d+)/.exec(text)?.[1] ?? 0);
      const message = `line ${this.line} is not valid JSON${seq ? ` (the event at seq ${seq})` : ''}`;
      if (runId && !this.broken.has(runId))
        this.broken.set(runId, { runId, ok: false, events: 0, seq, reason: 'malformed', message });
      else this.problems.push(message);
      return;
    }
    if (this.line === 1) {
      const parsed = ExportManifest.safeParse(value);
      if (!parsed.success) this.problems.push('line 1 is not a Parley export manifest');
      else {
        this.manifest = parsed.data;
        this.manifestValue = value as Record<string, unknown>;
        for (const run of parsed.data.runs)
          this.watched.set(run.runId, new Set((run.signed ?? []).map((h) => h.seq)));
      }
      return;
    }
    const event = value as EventEnvelope;
    if (value === null || typeof value !== 'object' || typeof event.runId !== 'string') {
      this.problems.push(`line ${this.line} is not an event`);
      return;
    }
    // the hash of an event nested thousands of levels deep would overflow the stack
    const problem = jsonValueProblem(value, MAX_IMPORTED_EVENT_DEPTH);
    if (problem) {
      this.problems.push(`line ${this.line} is not an event: ${problem.message}`);
      return;
    }
    let verifier = this.verifiers.get(event.runId);
    if (!verifier) this.verifiers.set(event.runId, (verifier = new ChainVerifier()));
    verifier.push(event);
    this.runOfExpected ??= event.runId;
    const seqs = this.watched.get(event.runId);
    const expected = this.options.expectHead;
    if (
      seqs?.has(event.seq) ||
      (expected && expected.seq === event.seq && event.runId === this.runOfExpected)
    ) {
      let hashes = this.hashesAt.get(event.runId);
      if (!hashes) this.hashesAt.set(event.runId, (hashes = new Map()));
      // the chain verifier checks that this hash is the event's own and links to the one before
      if (!hashes.has(event.seq)) hashes.set(event.seq, String(event.hash));
    }
  }

  private manifestValue: Record<string, unknown> | undefined;

  /** Who signed the manifest, and whether that is one of the trusted keys. */
  private signatureVerdict(): SignatureVerdict | undefined {
    const trusted = this.options.trustedKeys;
    if (!this.manifest || !this.manifestValue) return undefined;
    const signature = this.manifest.signature;
    if (!signature) {
      if (!trusted) return undefined;
      return {
        status: 'unsigned',
        message: 'the manifest is not signed: nothing says which server wrote it',
      };
    }
    const who = { keyId: signature.keyId, publicKey: signature.publicKey };
    if (!manifestSignatureValid(this.manifestValue))
      return {
        status: 'invalid',
        ...who,
        message: `the manifest's signature (key ${signature.keyId}) does not verify: the manifest was changed after it was signed`,
      };
    if (trusted && !trusted.some((k) => k.trim() === signature.publicKey))
      return {
        status: 'untrusted',
        ...who,
        message: `the manifest is signed by key ${signature.keyId} (${signature.publicKey}), which is not a trusted key`,
      };
    return { status: 'valid', ...who, message: `signed by key ${signature.keyId}` };
  }

  /** Each run's chain against the heads its server signed (each signature checked with the manifest's key). */
  private forgedRuns(signature: SignatureVerdict): ForgedRun[] {
    const forged: ForgedRun[] = [];
    const key = signature.publicKey ? parsePublicKey(signature.publicKey) : undefined;
    for (const run of this.manifest?.runs ?? []) {
      const hashes = this.hashesAt.get(run.runId) ?? new Map<number, string>();
      let lastSignedMatch = 0;
      for (const head of run.signed ?? []) {
        const problem = signedHeadProblem(head, run.runId, signature, key);
        const found = hashes.get(head.seq);
        if (!problem && found === head.hash) {
          lastSignedMatch = head.seq;
          continue;
        }
        const why =
          problem ??
          (found === undefined
            ? `the file has no event at seq ${head.seq}`
            : `at seq ${head.seq} the file's hash is ${found.slice(0, 12)}…, the signed head's is ${head.hash.slice(0, 12)}…`);
        forged.push({
          runId: run.runId,
          seq: head.seq,
          lastSignedMatch,
          firstDifferentSeq: lastSignedMatch + 1,
          message:
            `run ${run.runId} is forged: its chain does not reach the head signed at seq ${head.seq} (${head.reason}, ${head.at}): ${why}; ` +
            (lastSignedMatch
              ? `it matches the head signed at seq ${lastSignedMatch}, so the first seq that differs is in ${lastSignedMatch + 1}..${head.seq}`
              : `no earlier signed head matches, so the first seq that differs is in 1..${head.seq}`),
        });
        break;
      }
    }
    // a run the signed manifest does not list is none the server vouched for
    const listed = new Set((this.manifest?.runs ?? []).map((r) => r.runId));
    for (const runId of this.verifiers.keys()) {
      if (listed.has(runId)) continue;
      forged.push({
        runId,
        seq: 1,
        lastSignedMatch: 0,
        firstDifferentSeq: 1,
        message: `run ${runId} is forged: the signed manifest does not list it (from seq 1)`,
      });
    }
    return forged;
  }

  result(): ExportVerdict {
    const runs: RunVerdict[] = [];
    const expected = new Map((this.manifest?.runs ?? []).map((r) => [r.runId, r]));
    const ids = new Set([...expected.keys(), ...this.verifiers.keys(), ...this.broken.keys()]);
    for (const runId of ids) {
      const broken = this.broken.get(runId);
      if (broken) {
        runs.push(broken);
        continue;
      }
      const chain = this.verifiers.get(runId)?.result() ?? { ok: true as const, events: 0, head: '' };
      if (!chain.ok) {
        runs.push({
          runId,
          ok: false,
          events: chain.events,
          seq: chain.seq,
          reason: chain.reason,
          message: chain.message,
        });
        continue;
      }
      const want = expected.get(runId);
      if (want && want.count !== chain.events) {
        const seq = chain.events + 1;
        runs.push({
          runId,
          ok: false,
          events: chain.events,
          seq,
          reason: 'count',
          message: `the manifest lists ${want.count} events, the file holds ${chain.events}: seq ${seq} onwards is missing`,
        });
      } else if (want && want.head !== chain.head) {
        runs.push({
          runId,
          ok: false,
          events: chain.events,
          seq: chain.events,
          reason: 'head',
          message: 'the last event does not match the head hash in the manifest',
        });
      } else {
        runs.push({ runId, ok: true, events: chain.events, head: chain.head });
      }
    }
    if (!this.manifest && !this.problems.length) this.problems.push('no manifest');
    const verdict: ExportVerdict = {
      ok: this.problems.length === 0 && runs.every((r) => r.ok),
      runs,
      problems: this.problems,
    };
    const signature = this.signatureVerdict();
    if (signature) {
      verdict.signature = signature;
      // Without trusted keys the file is only checked against its own key: a signature that does
      // not hold is still a forgery, but a file re-signed by another key passes (use the keys).
      verdict.forged = signature.status === 'valid' ? this.forgedRuns(signature) : [];
      if (signature.status !== 'valid' || verdict.forged.length) verdict.ok = false;
    }
    const expectHead = this.options.expectHead;
    if (expectHead) {
      const runId = this.runOfExpected;
      const found = runId ? this.hashesAt.get(runId)?.get(expectHead.seq) : undefined;
      const ok = found === expectHead.hash;
      verdict.expectedHead = {
        ...expectHead,
        ok,
        message: ok
          ? `the chain passes through the expected head at seq ${expectHead.seq}`
          : found === undefined
            ? `the file has no event at seq ${expectHead.seq}: the expected head is not in it`
            : `at seq ${expectHead.seq} the file's hash is ${found}, not the expected ${expectHead.hash}: the history differs at or before seq ${expectHead.seq}`,
      };
      if (!ok) verdict.ok = false;
    }
    return verdict;
  }
}

/** Why a signed head of `runId` in a manifest signed by `signature` does not hold, if it does not. */
function signedHeadProblem(
  head: SignedHead,
  runId: string,
  signature: SignatureVerdict,
  key: ReturnType<typeof parsePublicKey> | undefined,
): string | undefined {
  if (head.runId !== runId) return `the head signed at seq ${head.seq} is of run ${head.runId}`;
  if (!signature.publicKey || head.keyId !== keyIdOf(signature.publicKey))
    return `the head at seq ${head.seq} is signed by key ${head.keyId}, not the manifest's`;
  if (!key || !verifySignedHead(head, key))
    return `the signature of the head at seq ${head.seq} does not verify`;
  return undefined;
}

export function verifyExportText(text: string, options: ExportVerifyOptions = {}): ExportVerdict {
  const verifier = new ExportVerifier(options);
  for (const line of text.split('\n')) verifier.push(line);
  return verifier.result();
}
