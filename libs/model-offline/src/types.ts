/** Shapes shared by the offline model's rule engine and HTTP layer. */

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface ContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

export interface ToolCallIn {
  id: string;
  type?: string;
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: ChatRole;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_call_id?: string;
  tool_calls?: ToolCallIn[];
  [key: string]: unknown;
}

/** A JSON Schema document (only the subset the generator understands is typed). */
export type JsonSchema = { [key: string]: unknown };

export interface ToolDef {
  type: string;
  function?: { name: string; description?: string; parameters?: JsonSchema; strict?: boolean | null };
  [key: string]: unknown;
}

export interface ResponseFormat {
  type: string;
  json_schema?: { name: string; schema?: JsonSchema; strict?: boolean | null; description?: string };
  [key: string]: unknown;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolDef[];
  tool_choice?: unknown;
  response_format?: ResponseFormat;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  [key: string]: unknown;
}

export interface ToolCallOut {
  id: string;
  name: string;
  /** JSON text, exactly as sent to the client. */
  arguments: string;
}

/** What the rule engine decided; `rule` names the rule that fired (for logs and tests). */
export type Reply =
  | { kind: 'text'; rule: string; content: string }
  | { kind: 'structured'; rule: string; content: string }
  | { kind: 'tool_calls'; rule: string; toolCalls: ToolCallOut[] };
