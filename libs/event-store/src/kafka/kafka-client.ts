import type { Consumer, Kafka, KafkaConfig, LogEntry } from 'kafkajs';
import { kafkajs } from './kafkajs';

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
  const { Kafka, logLevel } = kafkajs();
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

/**
 * kafkajs restarts a crashed consumer only after a retriable error; after a non-retriable one
 * (e.g. "Failed to find group coordinator" from a broker that is shutting down) the consumer stays
 * stopped for good, and with it the local store, run ownership or the replies. This restarts it
 * (`start`: connect and run it again, subscriptions are kept) with a growing delay, until it runs
 * or `closing()` says it should not.
 */
export function restartWhenStopped(
  consumer: Consumer,
  start: () => Promise<void>,
  { closing, log, name }: { closing: () => boolean; log: (line: string) => void; name: string },
): void {
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  const schedule = (): void => {
    if (timer || closing()) return;
    const delayMs = Math.min(5000, 500 * 2 ** Math.min(attempt, 4));
    attempt += 1;
    timer = setTimeout(() => {
      timer = undefined;
      if (closing()) return;
      log(`[kafka] restarting the ${name} consumer (kafkajs stopped it), attempt ${attempt}`);
      start().catch((error: Error) => {
        log(`[kafka] restarting the ${name} consumer failed: ${error.message}`);
        schedule();
      });
    }, delayMs);
    timer.unref();
  };
  consumer.on(consumer.events.CRASH, (event) => {
    if (!(event.payload as { restart: boolean }).restart) schedule();
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    attempt = 0;
  });
}

const LEVELS: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };

/**
 * kafkajs' log, one line an entry (`[kafkajs WARN Connection <scope>] message {...rest}`), through
 * `emit`; `skip` drops the entries a client knows to be noise (each says why in its own filter).
 */
export function kafkaLogger(
  emit: (line: string) => void,
  skip: (entry: LogEntry) => boolean,
  scope?: string,
): (entry: LogEntry) => void {
  return (entry) => {
    if (skip(entry)) return;
    const { level, namespace, log } = entry;
    const { message, ...rest } = log;
    delete (rest as Record<string, unknown>).timestamp;
    delete (rest as Record<string, unknown>).logger;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    emit(`[kafkajs ${LEVELS[level] ?? level} ${namespace}${scope ? ` ${scope}` : ''}] ${message}${extra}`);
  };
}
