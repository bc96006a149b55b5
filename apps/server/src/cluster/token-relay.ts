import type { KafkaMessage } from 'kafkajs';
import type { LiveToken } from '../core/live-tokens';
import type { ClusterContext } from './cluster-context';
import { TokensRecord } from './cluster-messages';

const TOKEN_FLUSH_MS = 25;

/**
 * Tokens: the owner's engine streams them to `<prefix>.tokens` (acks=1, short retention), batched for
 * a few ms, so that watchers on every instance get them. Tokens are live only: the final message is
 * an event, so a lost batch is not retried.
 */
export class TokenRelay {
  readonly topic: string;
  private buffer: LiveToken[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly remote: () => ((tokens: LiveToken[]) => void) | undefined,
  ) {
    this.topic = `${ctx.config.prefix}.tokens`;
  }

  /** Tokens of runs driven here, for the watchers on other instances. */
  publish(token: LiveToken): void {
    if (this.ctx.closing()) return;
    this.buffer.push(token);
    this.timer ??= setTimeout(() => void this.flush(), TOKEN_FLUSH_MS);
  }

  /** A record of the tokens topic: another instance's tokens go to `remote`. */
  received(message: KafkaMessage): void {
    try {
      const record = TokensRecord.parse(JSON.parse(message.value!.toString('utf8')));
      if (record.from !== this.ctx.nodeId) this.remote()?.(record.tokens);
    } catch (error) {
      this.ctx.debug(`skipping bad tokens: ${(error as Error).message}`);
    }
  }

  close(): void {
    clearTimeout(this.timer);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const tokens = this.buffer.splice(0);
    if (!tokens.length || this.ctx.closing()) return;
    try {
      await this.ctx.producer.send({
        topic: this.topic,
        acks: 1,
        messages: [{ value: JSON.stringify({ from: this.ctx.nodeId, tokens }) }],
      });
    } catch (error) {
      this.ctx.debug(`tokens not sent: ${(error as Error).message}`);
    }
  }
}
