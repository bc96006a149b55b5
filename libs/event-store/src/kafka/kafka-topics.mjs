// Creating topics and waiting until they serve: the one copy, used by the Kafka event store, the
// cluster (apps/server/src/cluster) and the dev broker script (scripts/kafka/broker.mjs).
//
// Plain ESM JavaScript on purpose: scripts/kafka/broker.mjs runs it with Node before anything is
// compiled; `tsc` (allowJs) copies it into dist/, where the compiled TypeScript requires it.

/**
 * Create the topics that do not exist yet, then wait until every partition of every topic has a
 * leader that serves it.
 *
 * Not `admin.createTopics({ waitForLeaders: true })`: on a KRaft broker the metadata of a
 * just-created topic can briefly answer UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this
 * topic-partition"), which kafkajs 2.2.4's waitForLeaders does not retry (it only retries
 * LEADER_NOT_AVAILABLE), so createTopics throws although the topic was created (kafkajs #815; seen
 * with Kafka 4.4.0). And the metadata can name a leader before that broker serves the partition
 * (ListOffsets answers NOT_LEADER_FOR_PARTITION for a moment): a topic is ready once its offsets
 * answer. A topic created here must also show the partition count it was created with; an existing
 * topic is used as it is (its partitions are returned for the caller to check).
 *
 * @param {import('kafkajs').Admin} admin  a connected kafkajs admin
 * @param {import('kafkajs').ITopicConfig[]} topics
 * @param {{ timeoutMs?: number }} [options]  default 30 s
 * @returns {Promise<{ created: string[], partitions: Map<string, import('kafkajs').PartitionMetadata[]> }>}
 *   the topics created here, and every topic's partitions
 */
export async function ensureTopics(admin, topics, { timeoutMs = 30_000 } = {}) {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: false });
    } catch (error) {
      // another instance created it between the listing and here
      if (!String(error?.message).includes('already exists')) throw error;
    }
  }
  const wanted = new Map(
    topics.map((t) => [t.topic, !existing.has(t.topic) && t.numPartitions > 0 ? t.numPartitions : null]),
  );
  const deadline = Date.now() + timeoutMs;
  let last = 'no metadata yet';
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [...wanted.keys()] });
      const ready =
        md.topics.length === wanted.size &&
        md.topics.every(
          (t) =>
            t.partitions.length > 0 &&
            (wanted.get(t.name) == null || t.partitions.length === wanted.get(t.name)) &&
            t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0),
        );
      if (ready) {
        for (const t of md.topics) await admin.fetchTopicOffsets(t.name);
        return {
          created: missing.map((t) => t.topic),
          partitions: new Map(md.topics.map((t) => [t.name, t.partitions])),
        };
      }
      last = 'partitions without a leader';
    } catch (error) {
      last = error?.message ?? String(error); // UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE while metadata propagates
    }
    if (Date.now() > deadline) {
      const names = [...wanted.keys()].join(', ');
      throw new Error(
        `topic${wanted.size > 1 ? 's' : ''} ${names} ha${wanted.size > 1 ? 've' : 's'} no partition leaders after ${timeoutMs / 1000} s: ${last}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
