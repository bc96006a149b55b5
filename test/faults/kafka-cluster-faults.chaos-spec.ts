import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import {
  ParleyProcess,
  REPO_ROOT,
  allOpenRequests,
  auditRunEvents,
  readCommittedTopic,
  waitFor,
} from '@parley/testing';
import { AckedEvents, TOPIC, eventsOf, lostEvents, startRefund } from './kafka-faults-kit';

/**
 * A three-broker KRaft cluster (replication factor 3, min.insync.replicas 2, as production) under
 * Parley while it works: RUNS (default 200) refund runs with an approval each, and in the middle of
 * them one broker is killed with SIGKILL (the active controller) and, in a second round, one is
 * stopped for a minute. Every acknowledged event is on the topic, no record twice, no run forked,
 * every run finishes, and each refund is made once. `npm run test:chaos -- kafka-cluster-faults`.
 */
const RUNS = Number(process.env.PARLEY_CLUSTER_FAULT_RUNS ?? 200);
const STOPPED_MS = Number(process.env.PARLEY_CLUSTER_FAULT_STOP_MS ?? 60_000);

interface KafkaNode {
  brokers: string;
  nodeId: number;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<KafkaNode>;
}
interface KafkaCluster {
  brokers: string;
  nodes: KafkaNode[];
  controller(): Promise<number>;
  stop(): Promise<void>;
}

const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

describe(`Kafka: three brokers, one killed or stopped in the middle of ${RUNS} runs with human steps`, () => {
  let cluster: KafkaCluster;
  let server: ParleyProcess;
  const acked = new AckedEvents();
  const runs = new Set<string>();

  before(async () => {
    const { startKafkaCluster } = (await importEsm(
      pathToFileURL(join(REPO_ROOT, 'scripts/kafka/cluster.mjs')).href,
    )) as { startKafkaCluster: (o: object) => Promise<KafkaCluster> };
    cluster = await startKafkaCluster({ log: () => undefined });
    server = await ParleyProcess.start({
      eventLog: 'kafka',
      env: {
        KAFKA_BROKERS: cluster.brokers,
        PARLEY_INSTANCE_ID: 'cluster-faults',
        OFFLINE_MODEL_TOKEN_LATENCY_MS: '5',
        PARLEY_KAFKA_SESSION_TIMEOUT_MS: '6000',
        PARLEY_KAFKA_HEARTBEAT_MS: '500',
      },
    });
    assert.ok(
      !server.output.join('').includes('WARNING: topic'),
      'the topics were created with replication factor 3 and min.insync.replicas 2: no warning',
    );
  });
  after(async () => {
    await server?.dispose();
    await cluster?.stop();
  });

  /** RUNS runs: started, approved by a second human, finished; `fault` strikes when half are started. */
  async function round(
    name: string,
    fault: () => Promise<() => Promise<void>>,
  ): Promise<Record<string, unknown>> {
    const carol = server.client('carol');
    const alice = server.client('alice');
    const mine: string[] = [];
    let recover: (() => Promise<void>) | undefined;
    const startedAt = Date.now();
    let refused = 0;
    const refusedWith = new Map<string, number>();
    const startOne = async (i: number): Promise<void> => {
      for (;;) {
        try {
          const runId = await startRefund(carol, 150, `${name}-${i}`);
          mine.push(runId);
          runs.add(runId);
          return;
        } catch (error) {
          refused += 1; // refused while the cluster moved a leader: nothing half-exists, try again
          const code =
            /"code":"([A-Z_.]+)"/.exec((error as Error).message)?.[1] ??
            (error as Error).message.slice(0, 80);
          refusedWith.set(code, (refusedWith.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    for (let i = 0; i < RUNS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, RUNS - i) }, (_, j) => startOne(i + j)));
      if (!recover && i + 10 >= RUNS / 2) recover = await fault();
    }
    // Approve each as it asks, until every run has finished.
    await waitFor(
      `${name}: every run finishes`,
      async () => {
        const open = await allOpenRequests(alice);
        for (const r of open.filter((q) => mine.includes(q.runId)))
          await alice.post(`/api/requests/${r.id}/decision`, { decision: 'approve' }).catch(() => undefined);
        const statuses = await Promise.all(
          mine.map(async (id) => (await alice.get(`/api/runs/${id}`)).body.status),
        );
        return statuses.every((s) => s === 'completed');
      },
      { timeoutMs: 15 * 60_000, intervalMs: 1000 },
    );
    await acked.record(alice, mine);
    await recover?.();
    return {
      runs: mine.length,
      refusedStarts: refused,
      refusedWith: Object.fromEntries(refusedWith),
      seconds: Math.round((Date.now() - startedAt) / 1000),
    };
  }

  it('the active controller killed with SIGKILL: nothing lost, nothing twice, every run finishes', async () => {
    const figures = await round('kill', async () => {
      const id = await cluster.controller();
      const index = cluster.nodes.findIndex((n) => n.nodeId === id);
      await cluster.nodes[index].kill();
      return async () => {
        cluster.nodes[index] = await cluster.nodes[index].restart();
      };
    });
    console.log(`[kafka-cluster-faults] controller killed: ${JSON.stringify(figures)}`);
  });

  it(`a broker stopped for ${STOPPED_MS / 1000} s: nothing lost, nothing twice, every run finishes`, async () => {
    const figures = await round('stop', async () => {
      const index = 1;
      const stoppedAt = Date.now();
      await cluster.nodes[index].stop();
      return async () => {
        const left = STOPPED_MS - (Date.now() - stoppedAt);
        if (left > 0) await new Promise((r) => setTimeout(r, left));
        cluster.nodes[index] = await cluster.nodes[index].restart();
      };
    });
    console.log(`[kafka-cluster-faults] broker stopped: ${JSON.stringify(figures)}`);
  });

  it('every acknowledged event is on the topic once, every chain whole, each refund made once', async () => {
    const audit = auditRunEvents(await readCommittedTopic(cluster.brokers.split(','), TOPIC));
    const lost = lostEvents(acked, audit);
    assert.deepEqual(lost, [], 'acknowledged events missing from the topic');
    assert.equal(audit.duplicates, 0, 'no record twice');
    assert.equal(audit.conflicts, 0, 'no (run, seq) with two versions');
    assert.deepEqual(audit.brokenChains, []);
    const alice = server.client('alice');
    for (const runId of runs) {
      assert.deepEqual(
        (await eventsOf(alice, runId)).map((e) => e.hash),
        (audit.byRun.get(runId) ?? []).map((e) => e.hash),
      );
      const refunds = (await alice.get(`/api/refunds?runId=${runId}`)).body.refunds as unknown[];
      assert.equal(refunds.length, 1, `run ${runId}: one refund`);
    }
    console.log(
      `[kafka-cluster-faults] ${JSON.stringify({ runs: runs.size, acknowledged: acked.count(), lost: lost.length, records: audit.records, duplicates: audit.duplicates, conflicts: audit.conflicts })}`,
    );
  });
});
