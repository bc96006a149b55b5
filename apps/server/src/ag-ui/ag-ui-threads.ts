import { contentToText, type AGUIEvent, type Message, type RunAgentInput } from '@ag-ui/core';
import { RunAgentInputSchema } from '@ag-ui/core/schemas';
import type { EventEncoder as Encoder } from '@ag-ui/encoder';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  AgUiThreadPosition,
  COMMANDS,
  ConflictError,
  REST_BODIES,
  RunId,
  ValidationError,
  parseOrThrow,
} from '@parley/contracts';
import type { EventStore } from '@parley/event-store';
import { RunEngine, type RunState } from '@parley/engine';
import type { Response } from 'express';
import { requireRole, type Human } from '../auth/identity';
import { CommandRouter } from '../cluster/command-router';
import type { ParleyCore } from '../core/core';
import { PARLEY_CORE } from '../core/core.module';
import { LiveTokens } from '../core/live-tokens';
import { EVENT_STORE } from '../core/tokens';
import { DecideRequestCommand } from '../hitl/commands/request-commands';
import { RunFeed } from '../realtime/run-feed';
import { PostHumanMessageCommand } from '../runs/commands/run-commands';
import { StartRunCommand } from '../runs/commands/start-run.command';
import { AgUiStream } from './ag-ui-stream';
import { entryError, planResume } from './resume-plan';

/** Where a new stream starts, and the message ids the thread has taken in so far. */
interface Continuation {
  afterSeq: number;
  messageIds: string[];
}

/**
 * AG-UI threads: a thread is a Parley run (`threadId` = run id). A RunAgentInput on a new thread
 * starts a run of the route's workflow with its last user message; on an existing one, its resume
 * entries are decided and its new user messages posted, through the same CQRS commands as REST (the
 * CommandRouter: on a Kafka cluster they reach the run's owner). Then the run is streamed as AG-UI
 * events until it stops (ag-ui-stream.ts). Who acts is always the bearer token's human.
 */
@Injectable()
export class AgUiThreads implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AG-UI');
  private readonly feed: RunFeed;
  private readonly streams = new Set<AgUiStream>();

  constructor(
    @Inject(CommandRouter) private readonly commands: CommandRouter,
    @Inject(RunEngine) private readonly engine: RunEngine,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LiveTokens) private readonly tokens: LiveTokens,
    @Inject(PARLEY_CORE) private readonly core: ParleyCore,
  ) {
    this.feed = new RunFeed(store, (error) => this.logError(error));
  }

  async onModuleInit(): Promise<void> {
    await this.feed.start();
  }

  onModuleDestroy(): void {
    for (const stream of this.streams) stream.abort('STATUS.UNAVAILABLE', 'the server is shutting down');
    this.streams.clear();
    this.feed.stop();
  }

  /** Number of open AG-UI streams (for tests and health). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Serve one RunAgentInput: coded errors before the stream starts are plain HTTP errors. */
  async run(workflow: string, body: unknown, human: Human, res: Response): Promise<void> {
    const input = parseOrThrow(RunAgentInputSchema, body, 'REQUEST.INVALID_BODY') as RunAgentInput;
    const threadId = parseOrThrow(RunId, input.threadId, 'REQUEST.INVALID_BODY', 'threadId');
    const position = AgUiThreadPosition.safeParse(input.state ?? {});
    const state = await this.engine.state(threadId, { forReading: true });
    // server-sent events, whatever else the client would accept (AG-UI's protobuf framing is not served)
    // loaded on the first AG-UI stream: the encoder brings protobuf (about 20 modules) the server
    // does not need before then
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { EventEncoder } = require('@ag-ui/encoder') as { EventEncoder: typeof Encoder };
    const encoder = new EventEncoder({ accept: 'text/event-stream' });
    const stream = new AgUiStream(
      {
        store: this.store,
        feed: this.feed,
        tokens: this.tokens,
        write: (event: AGUIEvent) => {
          if (!res.writableEnded && !res.destroyed) res.write(encoder.encode(event));
        },
        end: () => {
          if (!res.writableEnded) res.end();
        },
        onError: (error) => this.logError(error),
      },
      threadId,
      input.runId,
      human,
      [],
    );
    await stream.listen();
    // from now on, a client that goes away (even while its commands run) stops its stream
    res.on('close', () => {
      stream.close();
      this.streams.delete(stream);
    });
    let continuation: Continuation;
    try {
      continuation = state
        ? await this.continueThread(workflow, input, state, human, position.success ? position.data : {})
        : await this.startThread(workflow, input, threadId, human);
    } catch (error) {
      stream.close();
      throw error;
    }
    res.status(200);
    res.setHeader('Content-Type', encoder.getContentType());
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    if (!res.destroyed) this.streams.add(stream);
    try {
      await stream.start(continuation.afterSeq, continuation.messageIds);
    } catch (error) {
      this.logError(error);
      stream.abort('INTERNAL', 'the stream broke (the server log has the details)');
    }
  }

  private async startThread(
    workflow: string,
    input: RunAgentInput,
    threadId: string,
    human: Human,
  ): Promise<Continuation> {
    requireRole(human, COMMANDS['run.start'].role);
    if (input.resume?.length) {
      throw new ValidationError(
        'AG_UI.UNKNOWN_INTERRUPT',
        `resume.0.interruptId: thread ${threadId} is new: it has no interrupts`,
        'resume.0.interruptId',
      );
    }
    const last = [...input.messages].reverse().find((m) => m.role === 'user');
    const text = last ? contentToText(last.content).trim() : '';
    if (!text) {
      throw new ValidationError(
        'AG_UI.NO_INPUT',
        'messages: a new thread starts a run with its last user message, and there is none',
        'messages',
      );
    }
    const body = parseOrThrow(REST_BODIES['run.start'], { workflow, input: text }, 'REQUEST.INVALID_BODY');
    await this.commands.execute(new StartRunCommand({ body, runId: threadId }, human));
    return { afterSeq: 0, messageIds: idsOf(input.messages) };
  }

  private async continueThread(
    workflow: string,
    input: RunAgentInput,
    state: RunState,
    human: Human,
    position: { seq?: number; messageIds?: string[] },
  ): Promise<Continuation> {
    if (state.workflow.name !== workflow) {
      throw new ConflictError(
        'AG_UI.WORKFLOW_MISMATCH',
        `thread ${state.runId} is a run of ${state.workflow.name}, not of ${workflow}`,
        { workflow: state.workflow.name },
      );
    }
    // Everything is checked before anything is appended: bad input changes nothing.
    const decisions = planResume(state, input.resume ?? [], human, new Date(), this.core.tools);
    const known = new Set(position.messageIds ?? []);
    // With the thread's state sent back, the user messages it does not name are new; without it (a
    // client that keeps no state), only a last message of the user's is: the history is never re-posted.
    const last = input.messages[input.messages.length - 1];
    const candidates = position.messageIds ? input.messages : last ? [last] : [];
    const messages = candidates
      .filter((m) => m.role === 'user' && !known.has(m.id))
      .map((m, i) => ({
        id: m.id,
        body: parseOrThrow(
          REST_BODIES['run.message'],
          { text: contentToText(m.content as Parameters<typeof contentToText>[0]).trim() },
          'REQUEST.INVALID_BODY',
          `messages.${input.messages.indexOf(m)}.content`,
        ),
        i,
      }));
    if (messages.length > 0) requireRole(human, COMMANDS['run.message'].role);
    for (const decision of decisions) {
      try {
        await this.commands.execute(
          new DecideRequestCommand({ ...decision.body, requestId: decision.requestId }, human),
        );
      } catch (error) {
        throw entryError(error, decision.field);
      }
    }
    for (const message of messages) {
      await this.commands.execute(
        new PostHumanMessageCommand({ ...message.body, runId: state.runId }, human),
      );
    }
    const seq = position.seq;
    return {
      afterSeq: seq !== undefined && seq <= state.seq ? seq : 0,
      messageIds: [...new Set([...known, ...idsOf(input.messages)])],
    };
  }

  private logError(error: unknown): void {
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  }
}

function idsOf(messages: readonly Message[]): string[] {
  return messages.map((m) => m.id);
}
