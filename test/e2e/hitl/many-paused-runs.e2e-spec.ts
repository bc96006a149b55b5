import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, waitFor } from '@parley/testing';

const RUNS = 200;

/** Deterministic shuffle (a fixed-seed LCG): the order is random-looking and the same every time. */
function shuffled<T>(items: T[], seed = 42): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe(`${RUNS} runs paused at once`, () => {
  let server: ParleyProcess;
  before(async () => {
    server = await ParleyProcess.start();
  });
  after(async () => server.dispose());

  it('are approved in random order by different approvers and all complete correctly', async () => {
    const carol = server.client('carol');
    const runs: Array<{ runId: string; amount: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      const amount = 101 + i;
      const { status, body } = await carol.post('/api/runs', {
        workflow: 'refund-desk',
        input: `Please refund $${amount} for order #M${i}`,
      });
      assert.equal(status, 201);
      runs.push({ runId: body.runId, amount });
    }
    const open = await waitFor(
      `${RUNS} approvals open`,
      async () => {
        const requests = (
          await server.client('alice').get(`/api/requests?status=open&kind=approval&limit=${RUNS}`)
        ).body.requests;
        return requests.length === RUNS ? requests : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const approvers = ['alice', 'bob', 'admin'] as const;
    await Promise.all(
      shuffled(open as Array<{ id: string }>).map(async (request, i) => {
        const answer = await server
          .client(approvers[i % approvers.length])
          .post(`/api/requests/${request.id}/decision`, { decision: 'approve' });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.status, 'resolved');
      }),
    );
    await waitFor(
      `all ${RUNS} runs completed`,
      async () => {
        const { total } = (await server.client().get('/api/runs?status=completed&workflow=refund-desk')).body;
        return total === RUNS;
      },
      { timeoutMs: 60_000 },
    );
    const refunds = (await server.client().get('/api/refunds')).body.refunds as Array<{
      runId: string;
      amount: number;
    }>;
    assert.equal(refunds.length, RUNS, 'one refund per run');
    const byRun = new Map(refunds.map((r) => [r.runId, r.amount]));
    for (const run of runs)
      assert.equal(byRun.get(run.runId), run.amount, `run ${run.runId} refunded its own amount once`);
    const deciders = new Set<string>();
    for (const run of runs.slice(0, 30)) {
      const events = (await server.client().get(`/api/runs/${run.runId}/events`)).body.events as Array<{
        type: string;
        data: { by?: { id: string } };
      }>;
      assert.equal(events.filter((e) => e.type === 'tool-call.completed').length, 1);
      assert.equal(events[events.length - 1].type, 'run.completed');
      deciders.add(events.find((e) => e.type === 'human-decision.recorded')!.data.by!.id);
    }
    assert.ok(deciders.size >= 2, 'decided by different approvers');
  });
});
