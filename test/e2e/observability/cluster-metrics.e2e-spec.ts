import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runInStatus, waitFor, type ParleyProcess } from '@parley/testing';
import { startCluster, waitBalanced } from '../cluster/cluster-helpers';

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
async function scrape(instance: ParleyProcess): Promise<Map<string, number>> {
  const response = await fetch(`${instance.url}/metrics`);
  assert.equal(response.status, 200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const sumOf = async (instances: ParleyProcess[], sample: string): Promise<number> =>
  (await Promise.all(instances.map(scrape))).reduce((n, s) => n + (s.get(sample) ?? 0), 0);

/**
 * Two instances on one Kafka cluster: each reports its own, the gauges about runs count only the
 * runs it owns, so a sum over the instances is the cluster's figure (every instance holds every run
 * in its read model); the owned partitions add up to the topic's, and the consumer lag is reported
 * per partition.
 */
describe('metrics in a cluster (Kafka)', () => {
  let instances: ParleyProcess[];
  before(async () => {
    ({ instances } = await startCluster(2, { PARLEY_KAFKA_PARTITIONS: '4' }));
    await waitBalanced(instances);
  });
  after(async () => {
    await Promise.all((instances ?? []).map((i) => i.dispose()));
  });

  it('sums over the instances are the cluster figures', async () => {
    assert.equal(await sumOf(instances, 'parley_kafka_owned_partitions'), 4);
    const carol = instances[0].client('carol');
    const runIds: string[] = [];
    for (const order of ['B777', 'C123', 'D456']) {
      const started = await carol.post('/api/runs', {
        workflow: 'refund-desk',
        input: `Please refund $250 for order #${order}, it never arrived`,
      });
      assert.equal(started.status, 201);
      runIds.push(started.body.runId);
    }
    for (const runId of runIds) await runInStatus(carol, runId, 'waiting');
    // both read models know all three runs; each run is counted by its owner only
    for (const instance of instances)
      await waitFor(
        'the read model has the runs',
        async () => (await instance.client('carol').get('/api/runs?status=waiting')).body.runs.length === 3,
      );
    assert.equal(await sumOf(instances, 'parley_runs_started_total{workflow="refund-desk"}'), 3);
    assert.equal(await sumOf(instances, 'parley_runs_active{status="waiting"}'), 3);
    assert.equal(await sumOf(instances, 'parley_human_requests_open{kind="approval",role="approver"}'), 3);
    const appends = await sumOf(instances, 'parley_event_log_append_duration_seconds_count{log="kafka"}');
    assert.ok(appends >= 3, `appends to the Kafka log were timed (${appends})`);
    // each instance reads every partition: a lag sample for each, back to 0 once caught up
    for (const instance of instances) {
      const samples = await waitFor(
        'the consumer caught up',
        async () => {
          const s = await scrape(instance);
          const lag = [0, 1, 2, 3].map((p) => s.get(`parley_kafka_consumer_lag{partition="${p}"}`));
          return lag.every((v) => v === 0) && s;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      assert.equal(samples.get('parley_event_log_unavailable'), 0);
    }
  });
});
