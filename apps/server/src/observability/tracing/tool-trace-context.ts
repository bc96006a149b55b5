/**
 * The W3C `traceparent` a tool call sends on (HTTP tools as a header, MCP tools in the request's
 * `_meta`): the call's own `execute_tool` span, whose id is known before the call runs (derived
 * from the run and the call id), so the tool's spans are its children. Undefined with tracing off,
 * or for a run that records no trace context. One source per process: the server's `RunTracing`.
 */
let source: ((runId: string, callId: string) => string | undefined) | undefined;

export function setToolTraceSource(next: typeof source): void {
  source = next;
}

export function traceparentOfToolCall(call: { runId: string; callId: string }): string | undefined {
  return source?.(call.runId, call.callId);
}
