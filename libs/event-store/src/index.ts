export * from './event-store.port';
export * from './seal';
export * from './sqlite/sqlite-event-store';
export * from './sqlite/sqlite-log';
export * from './kafka/kafka-event-store';
export * from './local-log-store';
export * from './kafka/kafka-client';
