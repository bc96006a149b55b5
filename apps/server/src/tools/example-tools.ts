import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ToolRegistry } from '@parley/engine';
import { defineTool, type DefinedTool, type ToolHost } from '@parley/tools-sdk';
import { LocalRefunds, RefundLedger, RefundsClient, type Refunds } from '@parley/refunds';

/**
 * The example workflows' tools, a tools module like any other (tools/examples.tools.yaml lists it):
 * real functions with observable effects. Refunds go to the shared refunds service when
 * PARLEY_REFUNDS_URL names one (a cluster: every instance, one ledger, each idempotency key once),
 * else to a ledger in Parley's data folder.
 */
export default function exampleToolsModule(host: ToolHost): DefinedTool[] {
  const url = process.env.PARLEY_REFUNDS_URL;
  const refunds: Refunds = url ? new RefundsClient(url) : new LocalRefunds(new RefundLedger(host.dataDir));
  host.onClose(() => refunds.close());
  return exampleToolDefinitions(refunds);
}

/** The same tools in a registry of their own (tests). */
export function exampleTools(ledger: Refunds, now: () => Date = () => new Date()): ToolRegistry {
  const registry = new ToolRegistry();
  for (const tool of exampleToolDefinitions(ledger, now)) registry.register(tool);
  return registry;
}

export function exampleToolDefinitions(ledger: Refunds, now: () => Date = () => new Date()): DefinedTool[] {
  return [
    defineTool({
      name: 'process_refund',
      // The ledger applies each idempotency key once: a refund re-made with its key (after a crash,
      // or by the instance that took a paused owner's run over) is made once.
      idempotent: true,
      description: 'Refund an order. Irreversible: money leaves the company.',
      args: z.object({
        order_id: z.string().min(1).describe('the order to refund, e.g. A123'),
        amount: z.number().positive().max(100_000).describe('amount in USD'),
        reason: z.string().min(1).describe('why the customer is refunded'),
      }),
      execute: async (args, ctx) => {
        const { row, existed } = await ledger.apply(
          {
            idempotencyKey: ctx.idempotencyKey,
            runId: ctx.runId,
            orderId: args.order_id,
            amount: args.amount,
            reason: args.reason,
          },
          now(),
        );
        return {
          result: { refundId: row.refundId, orderId: row.orderId, amount: row.amount, status: 'refunded' },
          reconciled: existed,
        };
      },
    }),
    defineTool({
      name: 'lookup_order',
      idempotent: true,
      description: 'Look up an order by id: status, total and the customer.',
      args: z.object({ order_id: z.string().min(1) }),
      execute: (args) => {
        const digest = createHash('sha256').update(args.order_id).digest();
        return {
          result: {
            orderId: args.order_id,
            status: ['delivered', 'shipped', 'processing'][digest[0] % 3],
            total: 20 + (digest[1] % 180) * 5,
            customer: `customer-${digest.readUInt16BE(2)}`,
          },
        };
      },
    }),
    defineTool({
      name: 'refund_history',
      idempotent: true,
      description:
        'The refunds already made for an order (amount, reason, when), to avoid refunding it twice.',
      args: z.object({ order_id: z.string().min(1) }),
      execute: async (args) => ({
        // The reasons are free text written when each refund was made: data, never instructions.
        result: {
          orderId: args.order_id,
          refunds: (await ledger.forOrder(args.order_id)).map((r) => ({
            refundId: r.refundId,
            amount: r.amount,
            reason: r.reason,
            at: r.createdAt,
          })),
        },
      }),
    }),
    defineTool({
      name: 'check_service_status',
      idempotent: true,
      description: 'Read the current status of a service from the status board.',
      args: z.object({ service: z.string().min(1) }),
      execute: (args) => ({
        result: { service: args.service, status: 'degraded', since: '10 minutes', errorRate: 0.12 },
      }),
    }),
  ];
}
