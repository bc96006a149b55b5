import { ForkBody } from '@parley/contracts/http/api.schemas';
import { api, issueSentence } from '../api';

/**
 * Fork `runId` after event `atSeq` and open the new run; the run page's Fork and replay's "Fork from
 * this event" both go through here. Answers the sentence to show when the fork body does not parse
 * (nothing is sent then); a refused fork throws the server's error.
 */
export async function forkAndOpen(runId: string, atSeq: number, note: string): Promise<string | null> {
  const parsed = ForkBody.safeParse({ atSeq, note });
  if (!parsed.success) return issueSentence(parsed.error);
  const fork = await api((parley) => parley.fork(runId, parsed.data));
  window.location.hash = `#/runs/${encodeURIComponent(fork.runId)}`;
  return null;
}
