import type { KeyObject } from 'node:crypto';
import type { SignedHead } from '@parley/contracts';
import { ChainVerifier, keyIdOf, parsePublicKey, verifySignedHead } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import type { AnchorStream } from './anchor-log';

export type AnchorProblem = 'deleted' | 'truncated' | 'rewritten' | 'broken' | 'unanchored' | 'forged';

export interface AnchoredRunCheck {
  runId: string;
  ok: boolean;
  /** The last head anchored for the run (absent: the run was never anchored). */
  anchored?: SignedHead;
  /** The run's head in the log now (absent: the run is not in the log). */
  stored?: { seq: number; hash: string };
  problem?: AnchorProblem;
  message: string;
}

export interface AnchorsVerdict {
  ok: boolean;
  checked: number;
  problems: number;
  runs: AnchoredRunCheck[];
  /**
   * The keys that signed the anchors: `verified` when the key is this server's or trusted
   * (PARLEY_TRUSTED_KEYS) and every signature of it holds; `unknown` when this server cannot check
   * them (another instance's own key: give the cluster one key, or trust each other's).
   */
  keys: Array<{ keyId: string; anchors: number; status: 'verified' | 'unknown' }>;
}

/** The public keys a server checks anchors with: its own and the trusted ones, by key id. */
export function anchorKeys(own: string, trusted: string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const text of [own, ...trusted]) {
    try {
      keys.set(keyIdOf(text), parsePublicKey(text));
    } catch {
      // not a public key: config validation names it
    }
  }
  return keys;
}

/**
 * Every run against the anchor stream: its log must verify up to its last anchored head and pass
 * through it (same seq, same hash). A run anchored but gone from the log is `deleted`; one shorter
 * than its anchor `truncated`; one whose event at the anchored seq has another hash `rewritten`
 * (recomputed with Parley's own library, it still verifies by itself); one that does not verify
 * `broken`. A run in the log that waits or ended and was never anchored is `unanchored` (written
 * into the log by something other than this server, or signed while the anchor could not be written).
 * An anchor signed by a known key (`keys`: this server's, the trusted ones) whose signature does not
 * hold is `forged` (the run is not checked against forged anchors); anchors of keys this server does
 * not know are used, and their keys said `unknown` in the verdict.
 */
export async function checkAnchors(
  store: EventStore,
  anchors: AnchorStream,
  logRuns: Array<{ runId: string; status: string }>,
  keys: Map<string, KeyObject> = new Map(),
): Promise<AnchorsVerdict> {
  const runs: AnchoredRunCheck[] = [];
  const seen = new Map<string, { anchors: number; status: 'verified' | 'unknown' }>();
  for (const runId of anchors.runs()) {
    const heads = anchors.heads(runId);
    let forged: SignedHead | undefined;
    for (const head of heads) {
      const key = keys.get(head.keyId);
      const entry = seen.get(head.keyId) ?? { anchors: 0, status: key ? 'verified' : 'unknown' };
      entry.anchors++;
      seen.set(head.keyId, entry);
      if (key && !verifySignedHead(head, key)) forged ??= head;
    }
    if (forged) {
      // written to the anchor stream by someone without the key it names: it proves nothing
      runs.push({
        runId,
        ok: false,
        anchored: forged,
        stored: await store.head(runId),
        problem: 'forged',
        message: `run ${runId}: its anchor at seq ${forged.seq} names key ${forged.keyId} but its signature does not verify: it was not written by the key's holder`,
      });
      continue;
    }
    runs.push(await checkRun(store, runId, heads));
  }
  const anchored = new Set(anchors.runs());
  for (const run of logRuns) {
    if (anchored.has(run.runId) || run.status === 'running') continue;
    const head = await store.head(run.runId);
    runs.push({
      runId: run.runId,
      ok: false,
      stored: head,
      problem: 'unanchored',
      message: `run ${run.runId} is ${run.status} but no head of it was ever anchored`,
    });
  }
  const problems = runs.filter((r) => !r.ok).length;
  return {
    ok: problems === 0,
    checked: runs.length,
    problems,
    runs,
    keys: [...seen].map(([keyId, k]) => ({ keyId, ...k })),
  };
}

async function checkRun(store: EventStore, runId: string, heads: SignedHead[]): Promise<AnchoredRunCheck> {
  const anchor = heads[heads.length - 1];
  const stored = await store.head(runId);
  const base = { runId, anchored: anchor, stored };
  if (!stored)
    return {
      ...base,
      ok: false,
      problem: 'deleted',
      message: `run ${runId} is anchored at seq ${anchor.seq} but is not in the log: it was deleted`,
    };
  // every anchored head, not only the last: a rewritten run that went on would pass the last one
  const wanted = new Map(heads.map((h) => [h.seq, h]));
  const highest = Math.max(...heads.map((h) => h.seq));
  const verifier = new ChainVerifier();
  const found = new Map<number, string>();
  for await (const event of store.stream(runId)) {
    if (event.seq > highest) break;
    verifier.push(event);
    if (wanted.has(event.seq)) found.set(event.seq, event.hash);
  }
  const chain = verifier.result();
  if (!chain.ok)
    return {
      ...base,
      ok: false,
      problem: 'broken',
      message: `run ${runId} does not verify: ${chain.message}`,
    };
  for (const head of heads) {
    const hash = found.get(head.seq);
    if (hash === undefined)
      return {
        ...base,
        anchored: head,
        ok: false,
        problem: 'truncated',
        message: `run ${runId} is anchored at seq ${head.seq} but the log ends at seq ${stored.seq}: it was cut short`,
      };
    if (hash !== head.hash)
      return {
        ...base,
        anchored: head,
        ok: false,
        problem: 'rewritten',
        message: `run ${runId}: at seq ${head.seq} the log's hash is ${hash}, the anchored one ${head.hash}: its history was rewritten at or before seq ${head.seq}`,
      };
  }
  return {
    ...base,
    ok: true,
    message: `run ${runId} passes through its ${heads.length} anchored heads (the last at seq ${anchor.seq})`,
  };
}
