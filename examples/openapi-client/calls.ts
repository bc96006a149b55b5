// A client generated from docs/openapi.json (openapi-typescript types + openapi-fetch), making a few
// real calls: start a refund run, find its approval, decide it with the payload hash, read the run.
//   PARLEY_URL=http://localhost:3000 PARLEY_TOKEN=... node calls.js
import createClient from 'openapi-fetch';
import type { paths } from './parley-api';

export async function main(baseUrl: string, starter: string, approver: string): Promise<string> {
  const as = (token: string) =>
    createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } });
  const api = as(starter);
  const workflows = await api.GET('/api/workflows');
  if (!workflows.data?.workflows.some((w) => w.name === 'refund-desk')) throw new Error('no refund-desk');
  const started = await api.POST('/api/runs', {
    body: { workflow: 'refund-desk', input: 'Please refund $250 for order #B777, it never arrived' },
  });
  if (!started.data) throw new Error(`start: ${started.error?.error.code}`);
  const runId: string = started.data.runId;
  let requestId: string | undefined;
  for (let i = 0; i < 100 && !requestId; i++) {
    const open = await as(approver).GET('/api/requests', { params: { query: { status: 'open', runId } } });
    requestId = open.data?.requests[0]?.id;
    if (!requestId) await new Promise((r) => setTimeout(r, 100));
  }
  if (!requestId) throw new Error('no approval opened');
  const request = await as(approver).GET('/api/requests/{id}', { params: { path: { id: requestId } } });
  const payloadHash: string = request.data!.payloadHash;
  const decided = await as(approver).POST('/api/requests/{id}/decision', {
    params: { path: { id: requestId } },
    body: { decision: 'approve', payloadHash },
  });
  if (!decided.data) throw new Error(`decide: ${decided.error?.error.code}`);
  const refused = await api.POST('/api/runs', { body: { workflow: '', input: 'x' } });
  if (refused.error?.error.code !== 'REQUEST.INVALID_BODY') throw new Error('bad input was not refused');
  for (let i = 0; i < 100; i++) {
    const run = await api.GET('/api/runs/{runId}', { params: { path: { runId } } });
    const status: 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' = run.data!.status;
    if (status === 'completed') return runId;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the run did not complete');
}

if (require.main === module) {
  main(
    process.env.PARLEY_URL ?? 'http://localhost:3000',
    process.env.PARLEY_TOKEN!,
    process.env.PARLEY_APPROVER_TOKEN!,
  ).then(
    (runId) => console.log(`run ${runId} completed`),
    (e: Error) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
