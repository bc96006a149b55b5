import type { ModelCallPlan } from './steps';

export interface ModelResult {
  content: string;
  toolCalls: Array<{ id: string; name: string; arguments: unknown }>;
  structured?: unknown;
  attempts: number;
  usage?: { promptTokens: number; completionTokens: number };
}

export interface ModelCallContext {
  runId: string;
  /**
   * Live tokens while the agent speaks (published, never stored). Undefined when nobody watches the
   * run's tokens as the call begins: a gateway may then ask for the whole answer at once (cheaper
   * than a stream), since no one would see the deltas.
   */
  onToken?: (delta: string) => void;
}

/** The engine's only way to reach a model. */
export interface ModelGateway {
  complete(plan: ModelCallPlan, ctx: ModelCallContext): Promise<ModelResult>;
}

/**
 * A model call that gave no usable answer. `transient` (a refused or reset connection, a timeout,
 * HTTP 429 or 5xx): the engine tries again within the workflow's `retries`, after `retryAfterMs`
 * when the server named one. `attempts`: the requests this error stands for (an invalid
 * structured output is asked for again inside the gateway).
 */
export class ModelCallError extends Error {
  readonly transient: boolean;
  readonly retryAfterMs?: number;
  constructor(
    readonly code: 'MODEL_UNAVAILABLE' | 'MODEL_REFUSED' | 'MODEL_OUTPUT_INVALID' | 'MODEL_MISCONFIGURED',
    message: string,
    readonly attempts: number,
    options: { transient?: boolean; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'ModelCallError';
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}
