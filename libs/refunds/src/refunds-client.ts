import type { Refunds } from './refund-ledger';
import {
  IDEMPOTENCY_KEY_HEADER,
  RefundAppliedSchema,
  RefundListSchema,
  RefundsErrorSchema,
  type RefundRow,
} from './wire';

/** How long one request to the refunds service may take. */
const REQUEST_TIMEOUT_MS = 10_000;

/** `Refunds` through the shared refunds service (PARLEY_REFUNDS_URL): every instance, one ledger. */
export class RefundsClient implements Refunds {
  private readonly base: string;

  constructor(url: string) {
    this.base = url.replace(/\/+$/, '');
  }

  async apply(row: Omit<RefundRow, 'refundId' | 'createdAt'>): Promise<{ row: RefundRow; existed: boolean }> {
    const { idempotencyKey, ...body } = row;
    const answer = RefundAppliedSchema.parse(
      await this.request('POST', '/refunds', body, { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey }),
    );
    return { row: answer.refund, existed: answer.replayed };
  }

  async list(runId?: string): Promise<RefundRow[]> {
    const query = runId ? `?runId=${encodeURIComponent(runId)}` : '';
    return RefundListSchema.parse(await this.request('GET', `/refunds${query}`)).refunds;
  }

  async forOrder(orderId: string): Promise<RefundRow[]> {
    return RefundListSchema.parse(
      await this.request('GET', `/refunds?orderId=${encodeURIComponent(orderId)}`),
    ).refunds;
  }

  close(): void {}

  private async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    const url = `${this.base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new Error(
        `the refunds service at ${this.base} did not answer ${method} ${path}: ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`the refunds service answered ${response.status} with no JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      const problem = RefundsErrorSchema.safeParse(json);
      throw new Error(
        `the refunds service refused ${method} ${path} (${response.status}${problem.success ? ` ${problem.data.error.code}: ${problem.data.error.message}` : ''})`,
      );
    }
    return json;
  }
}
