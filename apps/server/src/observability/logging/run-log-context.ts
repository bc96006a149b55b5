/**
 * What a log line about a run is given besides its message: the run's trace (`traceId`, and the
 * run's `invoke_workflow` span as `spanId`) when tracing is on and the run recorded one, and the
 * run of a request a request line's path names. One source per process, set once the core is up
 * (the read model and the tracing know the runs); before that lines carry what their message says.
 */
export interface RunLogSource {
  traceOf(runId: string): { traceId: string; spanId: string } | undefined;
  runOfRequest(requestId: string): string | undefined;
}

let source: RunLogSource | undefined;

export function setRunLogSource(next: RunLogSource | undefined): void {
  source = next;
}

/** The fields of a line about `runId`: `runId`, and its trace's ids when it has one. */
export function runLogFields(runId: string): { runId: string; traceId?: string; spanId?: string } {
  const run = source?.traceOf(runId);
  return run ? { runId, traceId: run.traceId, spanId: run.spanId } : { runId };
}

/** The run of a request, as far as the read model knows it. */
export function runOfRequestForLog(requestId: string): string | undefined {
  return source?.runOfRequest(requestId);
}
