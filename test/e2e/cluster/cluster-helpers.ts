import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ParleyProcess, waitFor } from '@parley/testing';

/** The broker of the cluster tests: they need a real one and say so loudly. */
export function brokers(): string {
  const value = process.env.KAFKA_BROKERS;
  if (!value)
    throw new Error(
      'KAFKA_BROKERS is unset: the cluster tests need a real Kafka broker (run through `node scripts/test.mjs`, or `node scripts/kafka/cli.mjs start`)',
    );
  return value;
}

export interface ClusterStatus {
  mode: string;
  instanceId: string;
  partitions: number;
  owned: number[];
  stable: boolean;
  /** Commands sent to another instance's runs, and commands run here for another instance. */
  commands: { sent: number; ran: number };
  run?: { runId: string; ownedHere: boolean; partition: number };
}

/**
 * N Parley instances sharing one Kafka cluster under their own topic prefix (isolated from other
 * tests), with a short session timeout so that a SIGKILLed owner is replaced in seconds.
 */
export async function startCluster(
  n: number,
  env: Record<string, string> = {},
): Promise<{ prefix: string; instances: ParleyProcess[] }> {
  const prefix = `parley-e2e-${randomUUID().slice(0, 8)}`;
  const start = (i: number): Promise<ParleyProcess> =>
    ParleyProcess.start({
      eventLog: 'kafka',
      env: {
        KAFKA_BROKERS: brokers(),
        PARLEY_INSTANCE_ID: `${prefix}-${String.fromCharCode(97 + i)}`,
        PARLEY_KAFKA_TOPIC_PREFIX: prefix,
        PARLEY_KAFKA_SESSION_TIMEOUT_MS: '6000',
        PARLEY_KAFKA_HEARTBEAT_MS: '500',
        ...env,
      },
    });
  const first = await start(0); // creates the topics
  const others = await Promise.all(Array.from({ length: n - 1 }, (_, i) => start(i + 1)));
  const instances = [first, ...others];
  await waitBalanced(instances);
  return { prefix, instances };
}

export async function status(instance: ParleyProcess, runId?: string): Promise<ClusterStatus> {
  const answer = await instance.client('victor').get(`/api/cluster${runId ? `?runId=${runId}` : ''}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

/** Every partition owned by exactly one of `instances`, all of them settled. */
export async function waitBalanced(instances: ParleyProcess[], timeoutMs = 60_000): Promise<ClusterStatus[]> {
  return waitFor(
    `${instances.length} instances to share every partition`,
    async () => {
      const all = await Promise.all(instances.map((i) => status(i)));
      const owned = all.flatMap((s) => s.owned).sort((a, b) => a - b);
      const complete =
        all.every((s) => s.stable && s.owned.length > 0) &&
        owned.length === all[0].partitions &&
        new Set(owned).size === owned.length;
      return complete ? all : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** The instance that owns the run (exactly one). */
export async function ownerOf(
  instances: ParleyProcess[],
  runId: string,
  timeoutMs = 30_000,
): Promise<ParleyProcess> {
  return waitFor(
    `the owner of run ${runId}`,
    async () => {
      const owners: ParleyProcess[] = [];
      for (const i of instances) if ((await status(i, runId)).run?.ownedHere) owners.push(i);
      assert.ok(owners.length <= 1, `run ${runId} has ${owners.length} owners`);
      return owners[0];
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Delete a test cluster's topics and its owners' group (after its instances stopped). */
export async function dropCluster(prefix: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'cluster-test-cleanup',
    brokers: brokers().split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    await admin.deleteGroups([`${prefix}-owners`]).catch(() => undefined);
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
