export { ParleyClient, type ClientOptions } from './client';
export { ParleyApiError, ParleyConnectionError, ParleyContractError } from './errors';
export { Rest, type Answer, type CallOptions, type RestOptions } from './rest';
export { watchRun, type RunWatch, type WatchOptions } from './watch';
export { watchRuns, type RunsWatch, type RunsWatchOptions } from './runs-watch';
export {
  watchInbox,
  type InboxCounts,
  type InboxQuery,
  type InboxState,
  type InboxWatch,
  type InboxWatchOptions,
  type RequestSummary,
} from './inbox-watch';
