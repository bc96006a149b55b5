import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyProcess, runInStatus, waitFor, type HttpClient } from '@parley/testing';
import { PrometheusServer } from './prometheus-server';

const METRICS_TOKEN = 'metrics-scraper-token-0123456789';

interface LoggedEvent {
  type: string;
  data: Record<string, any>;
}

/**
 * A real Prometheus scrapes a real Parley server (every second, with the metrics token) while runs
 * with human steps go by; the test asks Prometheus's HTTP API, and the figures must be what the
 * runs' own logs say happened.
 */
describe('GET /metrics scraped by Prometheus', () => {
  let server: ParleyProcess;
  let prometheus: PrometheusServer;

  before(async () => {
    server = await ParleyProcess.start({ env: { PARLEY_METRICS_TOKEN: METRICS_TOKEN } });
    prometheus = await PrometheusServer.start({
      host: new URL(server.url).host,
      metricsPath: '/metrics',
      bearer: METRICS_TOKEN,
    });
  });
  after(async () => {
    await prometheus?.stop();
    await server?.dispose();
  });

  const eventsOf = async (api: HttpClient, runId: string): Promise<LoggedEvent[]> =>
    (await api.get(`/api/runs/${runId}/events`)).body.events;
  /** Wait until Prometheus's latest scrape shows `expected` for `expr`. */
  const scraped = (expr: string, expected: number) =>
    waitFor(`Prometheus: ${expr} = ${expected}`, async () => (await prometheus.value(expr)) === expected, {
      timeoutMs: 20_000,
      intervalMs: 250,
    });

  it('without the metrics token /metrics is 401 with a coded error', async () => {
    const none = await fetch(`${server.url}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.code, 'AUTH.MISSING_TOKEN');
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.client('admin').token}` },
    });
    assert.equal(wrong.status, 401, "a user's token is not the metrics token");
    assert.equal(((await wrong.json()) as any).error.code, 'AUTH.INVALID_TOKEN');
  });

  it('counts runs, model and tool calls, tokens, human waits and HTTP answers as the logs say', async () => {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const start = async (workflow: string, input: string): Promise<string> => {
      const answer = await carol.post('/api/runs', { workflow, input });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body.runId;
    };
    const openRequest = async (runId: string) =>
      (await runInStatus(carol, runId, 'waiting')).pendingRequests[0] as { id: string; payloadHash: string };

    // approved: the refund runs; rejected: it does not; the third waits for a human when scraped
    const approved = await start('refund-desk', 'Please refund $250 for order #B777, it never arrived');
    const rejected = await start('refund-desk', 'Please refund $300 for order #C123, it arrived broken');
    const waiting = await start('refund-desk', 'Please refund $200 for order #D456, wrong size');
    const first = await openRequest(approved);
    const second = await openRequest(rejected);
    await openRequest(waiting);
    assert.equal(
      (await alice.post(`/api/requests/${first.id}/decision`, { decision: 'approve' })).status,
      200,
    );
    assert.equal(
      (await alice.post(`/api/requests/${second.id}/decision`, { decision: 'reject', comment: 'no' })).status,
      200,
    );
    await runInStatus(carol, approved, 'completed');
    await runInStatus(carol, rejected, 'completed');
    // a debate gives a human the floor for 2 minutes: a request about to expire
    const debate = await start('debate', 'Should cities ban cars from their centres?');
    await runInStatus(carol, debate, 'waiting');

    const logs = await Promise.all([approved, rejected, waiting, debate].map((id) => eventsOf(carol, id)));
    const all = logs.flat();
    const modelCalls = all.filter((e) => e.type === 'model-call.completed');
    const promptTokens = modelCalls.reduce((n, e) => n + (e.data.usage?.promptTokens ?? 0), 0);
    const completionTokens = modelCalls.reduce((n, e) => n + (e.data.usage?.completionTokens ?? 0), 0);
    assert.ok(promptTokens > 0, 'the offline model reports usage');
    const refundsRun = all.filter(
      (e) =>
        e.type === 'tool-call.completed' &&
        all.some(
          (r) =>
            r.type === 'tool-call.requested' &&
            r.data.callId === e.data.callId &&
            r.data.tool === 'process_refund',
        ),
    );
    assert.equal(refundsRun.length, 1, 'one refund ran (the approved one)');

    await scraped('sum(parley_runs_started_total)', 4);
    await scraped('parley_runs_started_total{workflow="refund-desk"}', 3);
    await scraped('parley_runs_finished_total{workflow="refund-desk",status="completed"}', 2);
    await scraped('parley_runs_active{status="waiting"}', 2);
    await scraped('parley_runs_active{status="running"}', 0);
    await scraped('sum(parley_model_call_duration_seconds_count)', modelCalls.length);
    await scraped(
      'sum(parley_model_call_duration_seconds_count{workflow="refund-desk",agent="refund-agent",model="offline"})',
      logs
        .slice(0, 3)
        .flat()
        .filter((e) => e.type === 'model-call.completed').length,
    );
    await scraped('parley_model_tokens_total{direction="input"}', promptTokens);
    await scraped('parley_model_tokens_total{direction="output"}', completionTokens);
    await scraped('parley_tool_call_duration_seconds_count{tool="process_refund",outcome="completed"}', 1);
    await scraped('parley_human_wait_seconds_count{kind="approval",outcome="approve"}', 1);
    await scraped('parley_human_wait_seconds_count{kind="approval",outcome="reject"}', 1);
    await scraped('parley_human_requests_open{kind="approval",role="approver"}', 1);
    await scraped('sum(parley_human_requests_open)', 2);
    // the debate's floor closes within 2 minutes, the refund approval's deadline is an hour away
    await scraped('parley_human_requests_expiring{window="5m"}', 1);
    await scraped('parley_human_requests_expiring{window="15m"}', 1);
    await scraped('parley_http_requests_total{route="/api/requests/:id/decision",status="200"}', 2);
    await scraped('parley_http_requests_total{route="/api/runs",status="201"}', 4);
    await scraped('parley_event_log_unavailable', 0);
    await scraped('parley_socket_clients', 0);

    const oldest = await prometheus.value('parley_human_request_oldest_age_seconds{kind="approval"}');
    assert.ok(oldest !== undefined && oldest > 0, `the open approval has an age (${oldest})`);
    const appends = await prometheus.value('parley_event_log_append_duration_seconds_count{log="sqlite"}');
    assert.ok(
      appends !== undefined && appends > 0 && appends <= all.length,
      `appends were timed (${appends})`,
    );
    // histograms have their buckets; the process metrics are there too
    const buckets = await prometheus.query(
      'parley_human_wait_seconds_bucket{kind="approval",outcome="approve"}',
    );
    assert.ok(buckets.length > 5 && buckets.some((b) => b.metric.le === '+Inf' && b.value === 1));
    assert.ok(((await prometheus.value('parley_process_resident_memory_bytes')) ?? 0) > 0);
    // labels stay bounded: no run or request id anywhere
    const series = await prometheus.query('{__name__=~"parley_.+"}');
    const ids = [approved, rejected, waiting, debate, first.id, second.id];
    for (const s of series)
      for (const value of Object.values(s.metric))
        assert.ok(!ids.some((id) => value.includes(id)), `no id in labels: ${JSON.stringify(s.metric)}`);
    const [target] = await prometheus.targets();
    assert.equal(target.health, 'up', target.lastError);
  });
});
