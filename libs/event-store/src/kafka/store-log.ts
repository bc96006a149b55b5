/** The Kafka event store's own log lines: warnings always, `debug` only when asked (PARLEY_KAFKA_DEBUG). */
export interface StoreLog {
  emit(line: string): void;
  debug(line: string): void;
}

export function storeLog(emit: (line: string) => void, debug = false): StoreLog {
  return {
    emit,
    debug: (line) => {
      if (debug) emit(`[kafka-event-store] ${line}`);
    },
  };
}
