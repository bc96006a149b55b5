export * from './wire';
export { RefundLedger, LocalRefunds, type Refunds } from './refund-ledger';
export { RefundsClient } from './refunds-client';
export {
  startRefundsService,
  type RefundsServiceOptions,
  type RunningRefundsService,
} from './refunds-service';
