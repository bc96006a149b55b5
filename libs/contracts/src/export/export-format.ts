import { z } from 'zod';
import type { EventEnvelope } from '../envelope';
import { ChainVerifier, type ChainBreak } from '../hash-chain';
import { jsonValueProblem } from '../json-value';

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
  runs: z.array(z.object({ runId: z.string().min(1), count: z.number().int().min(0), head: z.string() })),
  /** The writer's current schema version of every event type. Each event carries its own too. */
  schemaVersions: z.record(z.string(), z.number().int().positive()),
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

export interface ExportVerdict {
  ok: boolean;
  runs: RunVerdict[];
  /** A problem with the file as a whole (no manifest, a line that is not JSON ...). */
  problems: string[];
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
      else this.manifest = parsed.data;
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
    return { ok: this.problems.length === 0 && runs.every((r) => r.ok), runs, problems: this.problems };
  }
}

export function verifyExportText(text: string): ExportVerdict {
  const verifier = new ExportVerifier();
  for (const line of text.split('\n')) verifier.push(line);
  return verifier.result();
}
