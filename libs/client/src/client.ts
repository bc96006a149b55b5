import type { z } from 'zod';
import type {
  DecisionBody,
  ForkBody,
  ListRequestsQuery,
  ListRunsQuery,
  StartRunBody,
} from '@parley/contracts/http/api.schemas';
import { Rest, type Answer, type RestOptions } from './rest';
import { watchInbox, type InboxWatch, type InboxWatchOptions } from './inbox-watch';
import { watchRuns, type RunsWatch, type RunsWatchOptions } from './runs-watch';
import { watchRun, type RunWatch, type WatchOptions } from './watch';

export type ClientOptions = RestOptions;

/**
 * A typed client of a Parley server. Every call's path, method and answer come from the route table
 * in the contracts (the same table the server's OpenAPI document is generated from), and every answer
 * is parsed with its schema: a server of another version fails loudly (`ParleyContractError`), an
 * error answer throws `ParleyApiError` with its code and field.
 */
export class ParleyClient {
  readonly rest: Rest;
  constructor(readonly options: ClientOptions) {
    this.rest = new Rest(options);
  }

  /** The same server as someone else. */
  as(token: string): ParleyClient {
    return new ParleyClient({ ...this.options, token });
  }

  health(): Promise<Answer<'health'>> {
    return this.rest.call('health');
  }
  me(): Promise<Answer<'me'>> {
    return this.rest.call('me');
  }
  async workflows(): Promise<Answer<'listWorkflows'>['workflows']> {
    return (await this.rest.call('listWorkflows')).workflows;
  }

  // runs ---------------------------------------------------------------------------------------
  startRun(body: z.input<typeof StartRunBody>): Promise<Answer<'startRun'>> {
    return this.rest.call('startRun', { body });
  }
  /** The first page of runs matching the query (newest first; 50 unless `limit` says otherwise). */
  async listRuns(query: z.infer<typeof ListRunsQuery> = {}): Promise<Answer<'listRuns'>['runs']> {
    return (await this.rest.call('listRuns', { query })).runs;
  }
  /** One page of runs with the number matching and the `nextCursor` of the page after (absent on the last). */
  runsPage(query: z.infer<typeof ListRunsQuery> = {}): Promise<Answer<'listRuns'>> {
    return this.rest.call('listRuns', { query });
  }
  getRun(runId: string): Promise<Answer<'getRun'>> {
    return this.rest.call('getRun', { params: { runId } });
  }
  async events(runId: string): Promise<Answer<'runEvents'>['events']> {
    return (await this.rest.call('runEvents', { params: { runId } })).events;
  }
  cancel(runId: string, reason?: string): Promise<Answer<'cancelRun'>> {
    return this.rest.call('cancelRun', { params: { runId }, body: reason ? { reason } : {} });
  }
  retry(runId: string, reason?: string): Promise<Answer<'retryRun'>> {
    return this.rest.call('retryRun', { params: { runId }, body: reason ? { reason } : {} });
  }
  postMessage(runId: string, text: string): Promise<Answer<'postMessage'>> {
    return this.rest.call('postMessage', { params: { runId }, body: { text } });
  }
  reroute(runId: string, to: string, reason: string): Promise<Answer<'rerouteHandoff'>> {
    return this.rest.call('rerouteHandoff', { params: { runId }, body: { to, reason } });
  }
  fork(runId: string, body: z.input<typeof ForkBody>): Promise<Answer<'forkRun'>> {
    return this.rest.call('forkRun', { params: { runId }, body });
  }
  audit(runId: string): Promise<Answer<'runAudit'>> {
    return this.rest.call('runAudit', { params: { runId } });
  }
  verify(runId: string): Promise<Answer<'verifyRun'>> {
    return this.rest.call('verifyRun', { params: { runId } });
  }
  /** The run's state as it was at a seq (default: now), rebuilt from the log. */
  runState(runId: string, at?: number): Promise<Answer<'runState'>> {
    return this.rest.call('runState', { params: { runId }, query: { at } });
  }
  /** The run as NDJSON: a signed manifest line, then every event (check it with `parley verify`). */
  exportRun(runId: string): Promise<string> {
    return this.rest.text('exportRun', { params: { runId } });
  }
  /** The same export as a stream, for runs too large to hold in memory. */
  exportRunStream(runId: string): Promise<ReadableStream<Uint8Array>> {
    return this.rest.stream('exportRun', { params: { runId } });
  }
  /** Import an export (admin; signed by a trusted key): NDJSON as text, bytes or a stream. */
  importRuns(
    ndjson: string | Uint8Array | ReadableStream<Uint8Array>,
    note?: string,
  ): Promise<Answer<'importRuns'>> {
    return this.rest.call('importRuns', {
      query: { note },
      rawBody: { contentType: 'application/x-ndjson', text: ndjson },
    });
  }

  // the log's defences ------------------------------------------------------------------------
  /** The server's public signing key (what `verify --key` and PARLEY_TRUSTED_KEYS take). */
  signingKey(): Promise<Answer<'signingKey'>> {
    return this.rest.call('signingKey');
  }
  /** Every run against the anchor stream. */
  checkAnchors(): Promise<Answer<'checkAnchors'>> {
    return this.rest.call('checkAnchors');
  }

  // the inbox ----------------------------------------------------------------------------------
  /** The first page of the requests matching the query (open ones you may act on by default; 50 a page). */
  async requests(query: z.infer<typeof ListRequestsQuery> = {}): Promise<Answer<'listRequests'>['requests']> {
    return (await this.rest.call('listRequests', { query })).requests;
  }
  /** One page of the inbox with the number matching, the counts and the `nextCursor` of the page after. */
  requestsPage(query: z.infer<typeof ListRequestsQuery> = {}): Promise<Answer<'listRequests'>> {
    return this.rest.call('listRequests', { query });
  }
  /** Every request matching the query, page after page (for scripts; the inbox shows pages). */
  async allRequests(
    query: Omit<z.infer<typeof ListRequestsQuery>, 'cursor'> = {},
  ): Promise<Answer<'listRequests'>['requests']> {
    const all: Answer<'listRequests'>['requests'] = [];
    let cursor: string | undefined;
    do {
      const page = await this.requestsPage({ limit: 500, ...query, cursor });
      all.push(...page.requests);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }
  request(id: string): Promise<Answer<'getRequest'>> {
    return this.rest.call('getRequest', { params: { id } });
  }
  /**
   * Decide a request. The payload hash is taken care of: unless given, the request is read first and
   * the decision is sent on the hash of what it shows now, so a payload edited meanwhile by someone
   * else is refused (409 REQUEST.STALE_PAYLOAD) instead of decided unseen.
   */
  async decide(id: string, body: z.input<typeof DecisionBody>): Promise<Answer<'decideRequest'>> {
    const payloadHash = body.payloadHash ?? (await this.request(id)).payloadHash;
    return this.rest.call('decideRequest', { params: { id }, body: { ...body, payloadHash } });
  }
  claim(id: string): Promise<Answer<'claimRequest'>> {
    return this.rest.call('claimRequest', { params: { id }, body: {} });
  }
  /** Hand a claimed request back (its claimer or an admin): anyone entitled may claim it again. */
  release(id: string): Promise<Answer<'releaseRequest'>> {
    return this.rest.call('releaseRequest', { params: { id }, body: {} });
  }

  // live ---------------------------------------------------------------------------------------
  /** Follow a run over socket.io from a seq, reconnecting by itself with no gap and no repeat. */
  watch(runId: string, options: WatchOptions): RunWatch {
    return watchRun(this.options, runId, options);
  }
  /** Follow the inbox over socket.io: a page of the open requests the user may act on, live. */
  watchInbox(options: InboxWatchOptions): InboxWatch {
    return watchInbox(this.options, options);
  }
  /** Follow the runs list over socket.io: runs that started or changed, batched every 200 ms. */
  watchRuns(options: RunsWatchOptions): RunsWatch {
    return watchRuns(this.options, options);
  }
}
