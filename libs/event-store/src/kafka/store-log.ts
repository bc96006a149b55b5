/** The Kafka event store's own log lines: warnings always, `debug` only with PARLEY_KAFKA_DEBUG set. */
export interface StoreLog {
  emit(line: string): void;
  debug(line: string): void;
}

export function storeLog(emit: (line: string) => void): StoreLog {
  return {
    emit,
    debug: (line) => {
      if (process.env.PARLEY_KAFKA_DEBUG) emit(`[kafka-event-store] ${line}`);
    },
  };
}
