import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';

/**
 * Every Parley Kafka client has the same bounded connection settings: an unreachable broker fails in
 * seconds, not minutes, and kafkajs' own log goes through `log` (WARN and above).
 */
export function createKafka(
  clientId: string,
  brokers: string[],
  log?: (entry: LogEntry) => void,
  overrides: Partial<Pick<KafkaConfig, 'connectionTimeout' | 'requestTimeout' | 'retry'>> = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { retries: 5, initialRetryTime: 250, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    ...(log ? { logCreator: () => log } : {}),
    ...overrides,
  });
}
