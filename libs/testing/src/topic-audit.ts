import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { hashEvent, verifyChain, type EventEnvelope } from '@parley/contracts';
import { waitFor } from './wait-for';

/**
 * Every committed record of a run-events topic, read from the broker (not through Parley) with
 * read_committed, up to the high watermarks as they were when called. Transactions end in control
 * records that no batch shows: the reader counts them as read through kafkajs' batch events.
 */
export async function readCommittedTopic(brokers: string[], topic: string): Promise<EventEnvelope[]> {
  const kafka = new Kafka({ clientId: 'topic-audit', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const high = new Map(
    (await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)] as [number, number]),
  );
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: `topic-audit-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const next = new Map<number, number>();
  const records: EventEnvelope[] = [];
  const passed = (partition: number, lastOffset: string | null | undefined): void => {
    if (lastOffset == null) return;
    next.set(partition, Math.max(next.get(partition) ?? 0, Number(lastOffset) + 1));
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => passed(e.payload.partition, e.payload.lastOffset));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) records.push(JSON.parse(m.value!.toString('utf8')) as EventEnvelope);
      if (batch.messages.length) passed(batch.partition, batch.lastOffset());
    },
  });
  try {
    await waitFor(
      `the audit consumer to read the whole topic ${topic}`,
      () => [...high].every(([p, h]) => h === 0 || (next.get(p) ?? 0) >= h),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } finally {
    await consumer.disconnect();
  }
  return records;
}

export interface TopicAudit {
  records: number;
  runs: number;
  /** The same (runId, seq) twice with the same hash (a producer retry the broker did not dedupe). */
  duplicates: number;
  /** The same (runId, seq) twice with different hashes: two histories of one run. Must be 0. */
  conflicts: number;
  brokenChains: string[];
  byRun: Map<string, EventEnvelope[]>;
}

/** Check the records of a topic: each one's hash, one version per (runId, seq), every run's chain. */
export function auditRunEvents(records: EventEnvelope[]): TopicAudit {
  const byRun = new Map<string, EventEnvelope[]>();
  let duplicates = 0;
  let conflicts = 0;
  const seen = new Map<string, string>();
  for (const e of records) {
    if (hashEvent(e) !== e.hash)
      throw new Error(`record of run ${e.runId} seq ${e.seq} does not match its hash`);
    const key = `${e.runId}\u0000${e.seq}`;
    const before = seen.get(key);
    if (before !== undefined) {
      if (before === e.hash) duplicates += 1;
      else conflicts += 1;
      continue;
    }
    seen.set(key, e.hash);
    const list = byRun.get(e.runId) ?? [];
    list.push(e);
    byRun.set(e.runId, list);
  }
  const brokenChains: string[] = [];
  for (const [runId, events] of byRun) {
    const verdict = verifyChain(events);
    if (!verdict.ok) brokenChains.push(`${runId}: ${verdict.message}`);
  }
  return { records: records.length, runs: byRun.size, duplicates, conflicts, brokenChains, byRun };
}
