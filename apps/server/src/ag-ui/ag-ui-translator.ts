import { EventType, type AGUIEvent } from '@ag-ui/core';
import type { AgUiCustomEventName, AgUiCustomEventValue, RunEvent } from '@parley/contracts';
import { latestVotes, requestView, type RunState } from '@parley/engine';

/** The message of a model call being streamed token by token. */
interface OpenMessage {
  messageId: string;
  streamed: string;
}

/**
 * Turns one run's Parley events (and its live tokens) into AG-UI events, for one stream. A model
 * call's text is a text message (id: the call id), streamed from its tokens when the call began
 * after the stream did, else sent whole with its `model-call.completed`; a requested tool call is
 * TOOL_CALL_START/ARGS/END (id: the tool call id, the very id an approval's interrupt names), its
 * result TOOL_CALL_RESULT; what AG-UI has no word for is a `parley:*` CUSTOM event. The lifecycle
 * (RUN_STARTED, STATE_SNAPSHOT, RUN_FINISHED) is the stream's (ag-ui-stream.ts).
 */
export class AgUiTranslator {
  /** Per agent: its model call in flight, and whether its tokens may be streamed. */
  private readonly calls = new Map<string, { callId: string; live: boolean }>();
  private readonly open = new Map<string, OpenMessage>();
  /** Tokens of an agent whose `model-call.started` this stream has not seen yet. */
  private readonly early = new Map<string, string[]>();
  /** Per agent: the message of its last model call (a tool call's parent). */
  private readonly lastMessage = new Map<string, string>();
  /**
   * Per agent: the text of its last completed call that no token has brought yet. Tokens relayed from
   * another instance (Kafka) may arrive after the call's `model-call.completed`: they are that text's
   * rest, already sent, and are dropped rather than taken for the agent's next call.
   */
  private readonly lateTail = new Map<string, string>();

  constructor(
    private readonly emit: (event: AGUIEvent) => void,
    /** Events at or below this seq were in the log before the stream listened to tokens. */
    private readonly liveAfterSeq: number,
  ) {}

  token(agent: string, delta: string): void {
    if (!delta) return;
    const tail = this.lateTail.get(agent);
    if (tail !== undefined) {
      if (tail.startsWith(delta)) {
        if (tail.length === delta.length) this.lateTail.delete(agent);
        else this.lateTail.set(agent, tail.slice(delta.length));
        return;
      }
      this.lateTail.delete(agent);
    }
    const call = this.calls.get(agent);
    if (!call) {
      const early = this.early.get(agent) ?? [];
      if (early.length < 10_000) early.push(delta);
      this.early.set(agent, early);
      return;
    }
    if (!call.live) return;
    let open = this.open.get(agent);
    if (!open) {
      open = { messageId: call.callId, streamed: '' };
      this.open.set(agent, open);
      this.emit({
        type: EventType.TEXT_MESSAGE_START,
        messageId: open.messageId,
        role: 'assistant',
        name: agent,
      });
    }
    open.streamed += delta;
    this.emit({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: open.messageId, delta });
  }

  /** A Parley event, with the run's state once it is applied. */
  event(event: RunEvent, state: RunState): void {
    switch (event.type) {
      case 'model-call.started': {
        const live = event.seq > this.liveAfterSeq;
        this.calls.set(event.data.agent, { callId: event.data.callId, live });
        const early = this.early.get(event.data.agent) ?? [];
        this.early.delete(event.data.agent);
        if (live) for (const delta of early) this.token(event.data.agent, delta);
        return;
      }
      case 'model-call.completed': {
        const { agent, callId, content, structured } = event.data;
        const live = this.calls.get(agent)?.live === true && structured === undefined;
        this.calls.delete(agent);
        const open = this.open.get(agent);
        this.open.delete(agent);
        // what no token has brought yet, of a call whose tokens this stream listens to (tokens from
        // another instance may still be on their way; here they all came before the call completed)
        const unseen = open ? content.slice(open.streamed.length) : content;
        if (live && unseen && (!open || content.startsWith(open.streamed))) this.lateTail.set(agent, unseen);
        if (open) {
          const rest = content.startsWith(open.streamed) ? content.slice(open.streamed.length) : '';
          if (rest)
            this.emit({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: open.messageId, delta: rest });
          this.emit({ type: EventType.TEXT_MESSAGE_END, messageId: open.messageId });
        } else if (content && structured === undefined) {
          this.emit({
            type: EventType.TEXT_MESSAGE_START,
            messageId: callId,
            role: 'assistant',
            name: agent,
          });
          this.emit({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: callId, delta: content });
          this.emit({ type: EventType.TEXT_MESSAGE_END, messageId: callId });
        }
        this.lastMessage.set(agent, callId);
        return;
      }
      case 'model-call.failed': {
        this.calls.delete(event.data.agent);
        const open = this.open.get(event.data.agent);
        this.open.delete(event.data.agent);
        if (open) this.emit({ type: EventType.TEXT_MESSAGE_END, messageId: open.messageId });
        return;
      }
      case 'tool-call.requested': {
        const { callId, tool, args, agent } = event.data;
        const parentMessageId = this.lastMessage.get(agent);
        this.emit({
          type: EventType.TOOL_CALL_START,
          toolCallId: callId,
          toolCallName: tool,
          ...(parentMessageId ? { parentMessageId } : {}),
        });
        this.emit({ type: EventType.TOOL_CALL_ARGS, toolCallId: callId, delta: JSON.stringify(args ?? {}) });
        this.emit({ type: EventType.TOOL_CALL_END, toolCallId: callId });
        return;
      }
      case 'tool-call.completed':
        return this.toolResult(event.data.callId, event.data.result ?? null);
      case 'tool-call.failed':
        return this.toolResult(event.data.callId, {
          error: { code: event.data.code, message: event.data.message },
        });
      case 'tool-call.rejected':
        return this.toolResult(event.data.callId, { rejected: event.data.reason });
      case 'human-message.posted':
        return this.custom('parley:human-message', {
          seq: event.seq,
          by: event.data.by,
          text: event.data.text,
        });
      case 'human-request.opened': {
        const request = state.requests.find((r) => r.requestId === event.data.requestId);
        if (!request) return;
        return this.custom('parley:request-opened', {
          seq: event.seq,
          request: { ...requestView(request), runId: state.runId },
        });
      }
      case 'human-decision.recorded': {
        const request = state.requests.find((r) => r.requestId === event.data.requestId);
        // a human who speaks when given the floor (a group chat) answers it: it is a message too
        if (request?.subject.type === 'floor' && event.data.decision === 'answer' && event.data.comment)
          this.custom('parley:human-message', {
            seq: event.seq,
            by: event.data.by,
            text: event.data.comment,
          });
        return this.custom('parley:decision-recorded', {
          seq: event.seq,
          requestId: event.data.requestId,
          vote: {
            by: event.data.by,
            decision: event.data.decision,
            ...(event.data.comment ? { comment: event.data.comment } : {}),
          },
          votes: request ? latestVotes(request.votes).length : 1,
          quorum: request?.quorum ?? 1,
        });
      }
      case 'human-request.resolved':
        return this.custom('parley:request-resolved', {
          seq: event.seq,
          requestId: event.data.requestId,
          outcome: event.data.outcome,
          deciders: event.data.deciders,
        });
      case 'human-request.claimed':
        return this.custom('parley:request-claimed', {
          seq: event.seq,
          requestId: event.data.requestId,
          by: event.data.by,
        });
      case 'human-request.released':
        return this.custom('parley:request-released', {
          seq: event.seq,
          requestId: event.data.requestId,
          by: event.data.by,
        });
      case 'human-request.expired':
        return this.custom('parley:request-expired', {
          seq: event.seq,
          requestId: event.data.requestId,
          action: event.data.action,
          ...(event.data.escalateTo ? { escalateTo: event.data.escalateTo } : {}),
        });
      case 'human-request.closed':
        return this.custom('parley:request-closed', {
          seq: event.seq,
          requestId: event.data.requestId,
          because: event.data.because,
        });
      case 'handoff.performed':
        return this.custom('parley:handoff', {
          seq: event.seq,
          to: event.data.to,
          reason: event.data.reason,
          by: event.data.from,
        });
      case 'handoff.overridden':
        return this.custom('parley:handoff', {
          seq: event.seq,
          to: event.data.to,
          reason: event.data.reason,
          by: event.data.by.id,
        });
      default:
        // the lifecycle (run.*) is the stream's; the rest (plans, ledgers, speakers, retries,
        // tool-call.started) is in the STATE_SNAPSHOT or has no AG-UI counterpart
        return;
    }
  }

  /** Messages still being streamed (a stream that ends while a model speaks closes them). */
  closeOpenMessages(): void {
    for (const open of this.open.values())
      this.emit({ type: EventType.TEXT_MESSAGE_END, messageId: open.messageId });
    this.open.clear();
  }

  private toolResult(callId: string, content: unknown): void {
    this.emit({
      type: EventType.TOOL_CALL_RESULT,
      messageId: `${callId}:result`,
      toolCallId: callId,
      content: JSON.stringify(content),
      role: 'tool',
    });
  }

  private custom<N extends AgUiCustomEventName>(name: N, value: AgUiCustomEventValue<N>): void {
    this.emit({ type: EventType.CUSTOM, name, value });
  }
}
