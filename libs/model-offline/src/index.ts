/** Public API of the offline, deterministic, OpenAI-compatible chat model server. */
export { startOfflineModelServer, MODEL_IDS } from './server';
export type { OfflineModelOptions, OfflineModelServer } from './server';
export { decideReply } from './rules';
export { generateInstance } from './json-instance';
export type { OfflineStats } from './stats';
export type {
  ChatMessage,
  ChatRequest,
  JsonSchema,
  Reply,
  ToolCallOut,
  ToolDef,
  ResponseFormat,
} from './types';
