import type * as KafkaJs from 'kafkajs';

/**
 * kafkajs, loaded on first use (a Kafka log, a cluster, a partition computed): a server on SQLite
 * never loads its 140-odd modules, which were a measurable part of its start-up.
 */
export function kafkajs(): typeof KafkaJs {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('kafkajs') as typeof KafkaJs;
}
