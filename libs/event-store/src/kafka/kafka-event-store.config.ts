import type { SealContext } from '../seal';

/** How a KafkaEventStore is opened (see `KafkaEventStore.open`). */
export interface KafkaEventStoreConfig {
  /** `host:port` of one or more brokers (usually from KAFKA_BROKERS). */
  brokers: string[];
  clientId?: string;
  /** Default `parley.run-events`. */
  topic?: string;
  /** Used only when the topic is created. Default 12. */
  partitions?: number;
  /** Used only when the topic is created. Default 1 (production: 3). */
  replicationFactor?: number;
  /**
   * The materialised local store: a folder (`events.db` inside it) or `:memory:`. A persisted
   * folder resumes from its stored offsets; `:memory:` or a new folder rebuilds from the topic.
   */
  localDir: string;
  seal?: SealContext;
  /** Warnings and errors (kafkajs's included), one line each. Default: stderr. */
  log?: (line: string) => void;
  /** Also log the store's debug lines (PARLEY_KAFKA_DEBUG). Default false. */
  debug?: boolean;
  /** Bound on reaching the brokers in `open`. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Bound on the initial catch-up in `open` (and the default for `waitForCatchUp`). Default 120 000 ms. */
  catchUpTimeoutMs?: number;
  /**
   * Which partitions this store writes. `all` (default): it claims every partition at open (one
   * writer for the topic). `claimed`: only those handed to `claim` (the owners' group of a cluster).
   * A claim fences every earlier claimant of the partition at the broker.
   */
  writes?: 'all' | 'claimed';
  /** Prefix of the partitions' transactional ids (`<prefix>/p<n>`). Default: the topic. */
  transactionalIdPrefix?: string;
  /** How long the broker lets a transaction stay open before aborting it. Default 60 000 ms. */
  transactionTimeoutMs?: number;
  /** Period of the reachability probe (one ListOffsets round-trip). Default 1000 ms. */
  probeIntervalMs?: number;
}
