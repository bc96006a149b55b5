import { useEffect, useMemo, useRef, useState } from 'react';
import { api, type RequestSummary } from '../api';

/** The workflow of each run the inbox shows (requests name their run only): the run list, read again for an unknown run. */
export function useRunWorkflows(
  requests: readonly RequestSummary[] | null,
): (runId: string) => string | undefined {
  const [known, setKnown] = useState<Map<string, string>>(new Map());
  const asked = useRef(new Set<string>());
  useEffect(() => {
    const missing = (requests ?? []).filter((r) => !known.has(r.runId) && !asked.current.has(r.runId));
    if (missing.length === 0) return;
    for (const r of missing) asked.current.add(r.runId);
    api((parley) => parley.listRuns({ limit: 500 }))
      .then((runs) => setKnown(new Map(runs.map((r) => [r.runId, r.workflow]))))
      .catch(() => undefined);
  }, [requests, known]);
  return useMemo(() => (runId: string) => known.get(runId), [known]);
}
