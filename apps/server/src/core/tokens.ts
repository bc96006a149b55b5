/** Injection tokens for the core services that are plain classes, not Nest providers. */
export { PARLEY_CONFIG } from '../config/config';
export { EVENT_STORE } from '@parley/event-store';
/** The refunds of the example tools (`Refunds` of @parley/refunds). */
export const REFUNDS = Symbol('REFUNDS');
