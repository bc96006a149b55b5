/** Injection tokens for the core services that are plain classes, not Nest providers. */
export { PARLEY_CONFIG } from '../config/config';
export { EVENT_STORE } from '@parley/event-store';
export const MODEL_GATEWAY = Symbol('MODEL_GATEWAY');
export const OFFLINE_MODEL = Symbol('OFFLINE_MODEL');
