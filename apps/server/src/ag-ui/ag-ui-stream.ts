import { EventType, type AGUIEvent } from '@ag-ui/core';
import { upcast, type AgUiThreadState, type EventEnvelope } from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { evolve, isTerminal, runView, type RunState } from '@parley/engine';
import type { Subscription } from 'rxjs';
import type { Human } from '../auth/identity';
import type { LiveTokens } from '../core/live-tokens';
import type { RunFeed, RunWatch } from '../realtime/run-feed';
import { AgUiTranslator } from './ag-ui-translator';
import { interruptsOf } from './interrupts';

export interface AgUiStreamDeps {
  store: EventStore;
  feed: RunFeed;
  tokens: LiveTokens;
  /** Writes one AG-UI event to the client. */
  write: (event: AGUIEvent) => void;
  /** The stream is over (the HTTP response ends). */
  end: () => void;
  onError: (error: unknown) => void;
}

/**
 * One AG-UI run over one Parley run (the thread): RUN_STARTED, then every event of the run after
 * `afterSeq` (from the log, then live, with the tokens of the model calls that begin meanwhile), and
 * once the run stops (it ended, or it waits for humans and nothing is in flight) a STATE_SNAPSHOT
 * and RUN_FINISHED (success, cancelled, or an interrupt per open request) or RUN_ERROR. Any number
 * of streams follow one run, each with its own watch: every client sees every event.
 */
export class AgUiStream {
  private state: RunState | undefined;
  private translator?: AgUiTranslator;
  private tokens?: Subscription;
  /** Says the run's tokens are watched while this stream is open (its model calls stream). */
  private stopWatching?: () => void;
  private watch?: RunWatch;
  private held: AGUIEvent[] = [];
  private started = false;
  private caughtUp = false;
  private finished = false;
  private checkScheduled = false;
  private afterSeq = 0;

  constructor(
    private readonly deps: AgUiStreamDeps,
    private readonly threadId: string,
    private readonly runId: string,
    private readonly human: Human,
    private messageIds: string[],
  ) {}

  /**
   * Listen to the run's tokens before anything is appended for this request (a decision or a start
   * drives the run at once): a model call that begins from now on is streamed token by token.
   */
  async listen(): Promise<void> {
    const early: Array<{ agent: string; delta: string }> = [];
    this.tokens = this.deps.tokens.subscribe((token) => {
      if (token.runId !== this.threadId || this.finished) return;
      if (this.translator) this.translator.token(token.agent, token.delta);
      else early.push(token);
    });
    this.stopWatching = this.deps.tokens.watchedBy((runId) => runId === this.threadId && !this.finished);
    const head = (await this.deps.store.head(this.threadId))?.seq ?? 0;
    this.translator = new AgUiTranslator((event) => this.emit(event), head);
    for (const token of early) this.translator.token(token.agent, token.delta);
  }

  /** Start sending: RUN_STARTED, the run's events after `afterSeq`, then live until it stops. */
  async start(afterSeq: number, messageIds: string[]): Promise<void> {
    this.afterSeq = afterSeq;
    this.messageIds = messageIds;
    this.deps.write({ type: EventType.RUN_STARTED, threadId: this.threadId, runId: this.runId });
    this.started = true;
    const held = this.held;
    this.held = [];
    for (const event of held) this.deps.write(event);
    if (this.finished) return; // the client left while its commands ran
    this.watch = this.deps.feed.open(this.threadId, (event) => this.onEvent(event));
    await this.deps.feed.begin(this.watch, 0);
    if (this.finished) {
      this.deps.feed.remove(this.watch);
      return;
    }
    this.caughtUp = true;
    this.scheduleCheck();
  }

  /** The client went away, or the server stops: nothing more is sent. */
  close(): void {
    this.finished = true;
    this.tokens?.unsubscribe();
    this.stopWatching?.();
    if (this.watch) this.deps.feed.remove(this.watch);
  }

  /** The server stops while this stream is open: say so, then end. */
  abort(code: string, message: string): void {
    if (this.finished) return;
    if (this.started) this.deps.write({ type: EventType.RUN_ERROR, message, code });
    this.close();
    this.deps.end();
  }

  private emit(event: AGUIEvent): void {
    if (this.finished) return;
    if (!this.started) this.held.push(event);
    else this.deps.write(event);
  }

  private onEvent(stored: EventEnvelope): void {
    if (this.finished) return;
    try {
      const event = upcast(stored);
      this.state = evolve(this.state, event);
      if (event.seq === this.afterSeq) this.deps.write(this.snapshot(this.state));
      if (event.seq > this.afterSeq) this.translator!.event(event, this.state);
      if (this.caughtUp) this.scheduleCheck();
    } catch (error) {
      this.fail(error);
    }
  }

  /** After the events of one delivery (one append's facts come together): has the run stopped? */
  private scheduleCheck(): void {
    if (this.checkScheduled || this.finished) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      try {
        this.check();
      } catch (error) {
        this.fail(error);
      }
    });
  }

  private check(): void {
    const state = this.state;
    if (this.finished || !state) return;
    const stopped =
      isTerminal(state.status) ||
      (state.status === 'waiting' &&
        !state.modelCalls.some((c) => c.status === 'started') &&
        !state.toolCalls.some((c) => c.status === 'started'));
    if (!stopped) return;
    this.translator!.closeOpenMessages();
    this.deps.write(this.snapshot(state));
    const base = { threadId: this.threadId, runId: this.runId };
    if (state.status === 'failed') {
      this.deps.write({
        type: EventType.RUN_ERROR,
        message: state.failure?.message ?? 'the run failed',
        ...(state.failure ? { code: state.failure.code } : {}),
      });
    } else if (state.status === 'cancelled') {
      this.deps.write({ type: EventType.RUN_FINISHED, ...base, outcome: { type: 'cancelled' } });
    } else if (state.status === 'completed') {
      this.deps.write({
        type: EventType.RUN_FINISHED,
        ...base,
        result: state.output ?? null,
        outcome: { type: 'success' },
      });
    } else {
      this.deps.write({
        type: EventType.RUN_FINISHED,
        ...base,
        outcome: { type: 'interrupt', interrupts: interruptsOf(state, this.human, new Date()) },
      });
    }
    this.close();
    this.deps.end();
  }

  private snapshot(state: RunState): AGUIEvent {
    const { transcript: _transcript, ...view } = runView(state);
    const snapshot: AgUiThreadState = { ...view, messageIds: this.messageIds };
    return { type: EventType.STATE_SNAPSHOT, snapshot };
  }

  private fail(error: unknown): void {
    this.deps.onError(error);
    this.abort('INTERNAL', 'the stream broke (the server log has the details)');
  }
}
