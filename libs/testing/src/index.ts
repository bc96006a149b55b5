export * from './http-client';
export * from './parley-process';
export * from './wait-for';
export * from './model-proxy';
export * from './given';
export * from './proc-stats';
export * from './child-rpc';
export * from './gate-invariant';
